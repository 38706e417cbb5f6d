//! Broker ⇄ namesrv and admin ⇄ namesrv headers (protocol.md §2.3): registration, data version,
//! routes, write permission, topic deletion, the KV store and the namesrv config.
//!
//! Requests whose payload is only a body (cluster info, topic list, namesrv config) have empty
//! header structs so that each code still has one typed request.

use crate::command_header;
use crate::header::EmptyHeader;

command_header! {
    /// REGISTER_BROKER (103) request; the body is a `RegisterBrokerBody`.
    pub struct RegisterBrokerRequestHeader {
        /// Broker name (shared by a master and its slaves).
        broker_name: String = "brokerName",
        /// `ip:listenPort` of the broker.
        broker_addr: String = "brokerAddr",
        /// Cluster the broker belongs to.
        cluster_name: String = "clusterName",
        /// `brokerIP2:haPort`.
        ha_server_addr: String = "haServerAddr",
        /// 0 for the master, > 0 for a slave.
        broker_id: i64 = "brokerId",
        /// Whether the body is the zlib form; Java sends `false` when absent.
        compressed: Option<bool> = "compressed",
        /// CRC32 of the body & 0x7FFFFFFF; 0 or absent means "not checked".
        body_crc32: Option<i32> = "bodyCrc32",
    }
}

impl RegisterBrokerRequestHeader {
    /// Whether the body uses the compressed form.
    pub fn is_compressed(&self) -> bool {
        self.compressed.unwrap_or(false)
    }

    /// The CRC the namesrv must check, if any (0 means unchecked).
    pub fn crc_to_check(&self) -> Option<i32> {
        self.body_crc32.filter(|&crc| crc != 0)
    }
}

command_header! {
    /// REGISTER_BROKER response: set only for a slave whose master is registered.
    pub struct RegisterBrokerResponseHeader {
        /// The master's HA address.
        ha_server_addr: Option<String> = "haServerAddr",
        /// The master's broker address.
        master_addr: Option<String> = "masterAddr",
    }
}

command_header! {
    /// UNREGISTER_BROKER (104) request.
    pub struct UnregisterBrokerRequestHeader {
        /// Broker name.
        broker_name: String = "brokerName",
        /// `ip:listenPort`.
        broker_addr: String = "brokerAddr",
        /// Cluster name.
        cluster_name: String = "clusterName",
        /// Broker id.
        broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// QUERY_DATA_VERSION (322) request; the body is the broker's `DataVersion`.
    pub struct QueryDataVersionRequestHeader {
        /// Broker name.
        broker_name: String = "brokerName",
        /// `ip:listenPort`.
        broker_addr: String = "brokerAddr",
        /// Cluster name.
        cluster_name: String = "clusterName",
        /// Broker id.
        broker_id: i64 = "brokerId",
    }
}

command_header! {
    /// QUERY_DATA_VERSION response.
    pub struct QueryDataVersionResponseHeader {
        /// Whether the namesrv's stored version differs from the broker's.
        changed: bool = "changed",
    }
}

command_header! {
    /// GET_ROUTEINFO_BY_TOPIC (105) request; the reply body is `TopicRouteData`.
    pub struct GetRouteInfoRequestHeader {
        /// The topic.
        topic: String = "topic",
        /// 4.9.4+: ask for standard JSON (quoted map keys).
        accept_standard_json_only: Option<bool> = "acceptStandardJsonOnly",
    }
}

command_header! {
    /// GET_BROKER_CLUSTER_INFO (106) request: no fields; the reply body is `ClusterInfo`.
    pub struct GetBrokerClusterInfoRequestHeader {}
}

command_header! {
    /// GET_ALL_TOPIC_LIST_FROM_NAMESERVER (206) request: no fields; the reply body is `TopicList`.
    pub struct GetAllTopicListRequestHeader {}
}

command_header! {
    /// GET_TOPICS_BY_CLUSTER (224) request; the reply body is `TopicList`.
    pub struct GetTopicsByClusterRequestHeader {
        /// Cluster name.
        cluster: String = "cluster",
    }
}

command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER (205) request.
    pub struct WipeWritePermOfBrokerRequestHeader {
        /// Broker name whose queue data lose the write bit.
        broker_name: String = "brokerName",
    }
}

command_header! {
    /// WIPE_WRITE_PERM_OF_BROKER response.
    pub struct WipeWritePermOfBrokerResponseHeader {
        /// Number of topics touched.
        wipe_topic_count: i32 = "wipeTopicCount",
    }
}

command_header! {
    /// ADD_WRITE_PERM_OF_BROKER (327) request.
    pub struct AddWritePermOfBrokerRequestHeader {
        /// Broker name whose queue data get perm 6 back.
        broker_name: String = "brokerName",
    }
}

command_header! {
    /// ADD_WRITE_PERM_OF_BROKER response.
    pub struct AddWritePermOfBrokerResponseHeader {
        /// Number of topics touched.
        add_topic_count: i32 = "addTopicCount",
    }
}

command_header! {
    /// DELETE_TOPIC_IN_NAMESRV (216) request (Java `DeleteTopicFromNamesrvRequestHeader`).
    pub struct DeleteTopicInNamesrvRequestHeader {
        /// The topic.
        topic: String = "topic",
        /// 4.9.8: if set, only this cluster's brokers lose the topic.
        cluster_name: Option<String> = "clusterName",
    }
}

command_header! {
    /// PUT_KV_CONFIG (100) request.
    pub struct PutKvConfigRequestHeader {
        /// Namespace, e.g. `ORDER_TOPIC_CONFIG`.
        namespace: String = "namespace",
        /// Key.
        key: String = "key",
        /// Value.
        value: String = "value",
    }
}

command_header! {
    /// GET_KV_CONFIG (101) request.
    pub struct GetKvConfigRequestHeader {
        /// Namespace.
        namespace: String = "namespace",
        /// Key.
        key: String = "key",
    }
}

command_header! {
    /// GET_KV_CONFIG response.
    pub struct GetKvConfigResponseHeader {
        /// The value (absent when the reply is QUERY_NOT_FOUND).
        value: Option<String> = "value",
    }
}

command_header! {
    /// DELETE_KV_CONFIG (102) request.
    pub struct DeleteKvConfigRequestHeader {
        /// Namespace.
        namespace: String = "namespace",
        /// Key.
        key: String = "key",
    }
}

command_header! {
    /// GET_KVLIST_BY_NAMESPACE (219) request; the reply body is a `KvTable`.
    pub struct GetKvListByNamespaceRequestHeader {
        /// Namespace.
        namespace: String = "namespace",
    }
}

command_header! {
    /// GET_NAMESRV_CONFIG (319) request: no fields; the reply body is Java properties text.
    pub struct GetNamesrvConfigRequestHeader {}
}

command_header! {
    /// UPDATE_NAMESRV_CONFIG (318) request: no fields; the body is Java properties text.
    pub struct UpdateNamesrvConfigRequestHeader {}
}

rpc_request! {
    RegisterBrokerRequestHeader => REGISTER_BROKER, RegisterBrokerResponseHeader;
    UnregisterBrokerRequestHeader => UNREGISTER_BROKER, EmptyHeader;
    QueryDataVersionRequestHeader => QUERY_DATA_VERSION, QueryDataVersionResponseHeader;
    GetRouteInfoRequestHeader => GET_ROUTEINFO_BY_TOPIC, EmptyHeader;
    GetBrokerClusterInfoRequestHeader => GET_BROKER_CLUSTER_INFO, EmptyHeader;
    GetAllTopicListRequestHeader => GET_ALL_TOPIC_LIST_FROM_NAMESERVER, EmptyHeader;
    GetTopicsByClusterRequestHeader => GET_TOPICS_BY_CLUSTER, EmptyHeader;
    WipeWritePermOfBrokerRequestHeader => WIPE_WRITE_PERM_OF_BROKER, WipeWritePermOfBrokerResponseHeader;
    AddWritePermOfBrokerRequestHeader => ADD_WRITE_PERM_OF_BROKER, AddWritePermOfBrokerResponseHeader;
    DeleteTopicInNamesrvRequestHeader => DELETE_TOPIC_IN_NAMESRV, EmptyHeader;
    PutKvConfigRequestHeader => PUT_KV_CONFIG, EmptyHeader;
    GetKvConfigRequestHeader => GET_KV_CONFIG, GetKvConfigResponseHeader;
    DeleteKvConfigRequestHeader => DELETE_KV_CONFIG, EmptyHeader;
    GetKvListByNamespaceRequestHeader => GET_KVLIST_BY_NAMESPACE, EmptyHeader;
    GetNamesrvConfigRequestHeader => GET_NAMESRV_CONFIG, EmptyHeader;
    UpdateNamesrvConfigRequestHeader => UPDATE_NAMESRV_CONFIG, EmptyHeader;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::code::RequestCode;
    use crate::header::{CommandHeader, HeaderError, RpcRequest};
    use crate::headers::test_util::{ext, round_trip};

    fn register() -> RegisterBrokerRequestHeader {
        RegisterBrokerRequestHeader {
            broker_name: "broker-a".into(),
            broker_addr: "10.0.0.1:10911".into(),
            cluster_name: "DefaultCluster".into(),
            ha_server_addr: "10.0.0.1:10912".into(),
            broker_id: 0,
            compressed: Some(false),
            body_crc32: Some(123456),
        }
    }

    #[test]
    fn register_round_trips_with_java_names() {
        let h = register();
        round_trip(&h);
        let ext = h.to_ext_fields();
        assert_eq!(ext["brokerId"], "0");
        assert_eq!(ext["compressed"], "false");
        assert_eq!(ext["bodyCrc32"], "123456");
        assert_eq!(ext["haServerAddr"], "10.0.0.1:10912");
        assert_eq!(RegisterBrokerRequestHeader::CODE, RequestCode::REGISTER_BROKER);
    }

    #[test]
    fn register_optional_fields_default() {
        let h = RegisterBrokerRequestHeader::from_ext_fields(&ext(&[
            ("brokerName", "b"),
            ("brokerAddr", "a:1"),
            ("clusterName", "c"),
            ("haServerAddr", "a:2"),
            ("brokerId", "1"),
        ]))
        .unwrap();
        assert!(!h.is_compressed());
        assert_eq!(h.crc_to_check(), None);
        let zero = RegisterBrokerRequestHeader {
            body_crc32: Some(0),
            ..h
        };
        assert_eq!(zero.crc_to_check(), None);
        let missing = RegisterBrokerRequestHeader::from_ext_fields(&ext(&[("brokerName", "b")]));
        assert_eq!(missing, Err(HeaderError::Missing("brokerAddr")));
    }

    #[test]
    fn responses_round_trip() {
        round_trip(&RegisterBrokerResponseHeader::default());
        round_trip(&RegisterBrokerResponseHeader {
            ha_server_addr: Some("h:10912".into()),
            master_addr: Some("h:10911".into()),
        });
        round_trip(&QueryDataVersionResponseHeader { changed: true });
        assert_eq!(
            WipeWritePermOfBrokerResponseHeader { wipe_topic_count: 3 }.to_ext_fields()["wipeTopicCount"],
            "3"
        );
        assert_eq!(
            AddWritePermOfBrokerResponseHeader { add_topic_count: 2 }.to_ext_fields()["addTopicCount"],
            "2"
        );
        round_trip(&GetKvConfigResponseHeader {
            value: Some("broker-a:4".into()),
        });
        assert!(QueryDataVersionResponseHeader::from_ext_fields(&ext(&[])).is_err());
    }

    #[test]
    fn requests_round_trip() {
        round_trip(&UnregisterBrokerRequestHeader {
            broker_name: "b".into(),
            broker_addr: "a:1".into(),
            cluster_name: "c".into(),
            broker_id: 2,
        });
        round_trip(&QueryDataVersionRequestHeader {
            broker_id: 0,
            ..Default::default()
        });
        round_trip(&GetRouteInfoRequestHeader {
            topic: "T".into(),
            accept_standard_json_only: Some(true),
        });
        round_trip(&WipeWritePermOfBrokerRequestHeader {
            broker_name: "b".into(),
        });
        round_trip(&AddWritePermOfBrokerRequestHeader {
            broker_name: "b".into(),
        });
        round_trip(&DeleteTopicInNamesrvRequestHeader {
            topic: "T".into(),
            cluster_name: None,
        });
        round_trip(&PutKvConfigRequestHeader {
            namespace: "N".into(),
            key: "k".into(),
            value: "v".into(),
        });
        round_trip(&GetKvConfigRequestHeader {
            namespace: "N".into(),
            key: "k".into(),
        });
        round_trip(&DeleteKvConfigRequestHeader {
            namespace: "N".into(),
            key: "k".into(),
        });
        round_trip(&GetKvListByNamespaceRequestHeader {
            namespace: "N".into(),
        });
        round_trip(&GetTopicsByClusterRequestHeader { cluster: "C".into() });
        assert!(GetBrokerClusterInfoRequestHeader {}.to_ext_fields().is_empty());
        assert_eq!(GetAllTopicListRequestHeader::CODE.code(), 206);
        assert_eq!(GetNamesrvConfigRequestHeader::CODE.code(), 319);
        assert_eq!(UpdateNamesrvConfigRequestHeader::CODE.code(), 318);
    }

    #[test]
    fn decodes_cpp_route_request_from_transcript() {
        // cpp210-namesrv.log: the C++ client adds AccessKey/Signature/OnsChannel to every request.
        let fields = ext(&[
            ("AccessKey", ""),
            ("OnsChannel", "ALIYUN"),
            ("Signature", "ocx9bBQ1U/VJqn+hYjvvOz0AjD0="),
            ("topic", "TopicCppGolden"),
        ]);
        let h = GetRouteInfoRequestHeader::from_ext_fields(&fields).unwrap();
        assert_eq!(
            h,
            GetRouteInfoRequestHeader {
                topic: "TopicCppGolden".into(),
                accept_standard_json_only: None
            }
        );
        assert_eq!(GetRouteInfoRequestHeader::CODE.code(), 105);
    }
}
