//! Nameservers over real sockets with fake brokers (`RemotingClient`) registering: independent
//! registries, removal when the registration connection closes, expiry, slaves learning their
//! master, the read-only view of a group whose master is gone, admin writes on queue data.

mod common;

use std::time::Duration;

use common::*;
use rmq_remoting::body::route::perm;
use rmq_remoting::body::{ClusterInfo, DataVersion, JsonBody, TopicList};
use rmq_remoting::headers::namesrv::{
    AddWritePermOfBrokerRequestHeader, DeleteTopicInNamesrvRequestHeader, QueryDataVersionRequestHeader,
    RegisterBrokerResponseHeader, UnregisterBrokerRequestHeader, WipeWritePermOfBrokerRequestHeader,
};
use rmq_remoting::net::RemotingClient;
use rmq_remoting::{CommandHeader, EmptyHeader, RemotingCommand, RequestCode, ResponseCode};

#[tokio::test]
async fn two_nameservers_each_hold_the_full_picture() {
    let ns1 = start_namesrv(|_| {}).await;
    let ns2 = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4), ("TBW102", 8)]);
    let b = FakeBroker::new("broker-b", 0, "10.0.0.2:10911", &[("T", 2)]);
    for ns in [&ns1.addr, &ns2.addr] {
        assert!(a.register(ns).await.is_success());
        assert!(b.register(ns).await.is_success());
    }
    let client = RemotingClient::default();
    for ns in [&ns1.addr, &ns2.addr] {
        let r = route(&client, ns, "T").await.expect("route on every namesrv");
        assert_eq!(r.broker_datas.len(), 2);
        assert_eq!(r.queue_datas.iter().map(|q| q.write_queue_nums).sum::<i32>(), 6);
    }
    // One nameserver going away changes nothing at the other: they share nothing.
    ns1.server.shutdown().await;
    let r = route(&client, &ns2.addr, "T").await.expect("ns2 still answers");
    assert_eq!(r.broker_datas.len(), 2);

    let info = call(
        &client,
        &ns2.addr,
        RequestCode::GET_BROKER_CLUSTER_INFO,
        &EmptyHeader,
    )
    .await;
    let text = String::from_utf8(info.body.to_vec()).unwrap();
    assert!(text.contains(r#""brokerAddrs":{"0":"10.0.0.1:10911"}"#), "{text}");
    assert!(text.contains(r#""enableActingMaster":false"#), "{text}");
    let info = ClusterInfo::decode(&info.body).unwrap();
    assert_eq!(info.cluster_addr_table["DefaultCluster"].len(), 2);
    let list = call(
        &client,
        &ns2.addr,
        RequestCode::GET_ALL_TOPIC_LIST_FROM_NAMESERVER,
        &EmptyHeader,
    )
    .await;
    let list = TopicList::decode(&list.body).unwrap();
    assert_eq!(
        list.topic_list.into_iter().collect::<Vec<_>>(),
        vec!["T".to_string(), "TBW102".to_string()]
    );
}

#[tokio::test]
async fn route_json_is_the_compatible_form() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "127.0.0.1:30911", &[("TopicGolden", 4)]);
    a.register(&ns.addr).await;
    let client = RemotingClient::default();
    let h = rmq_remoting::headers::namesrv::GetRouteInfoRequestHeader {
        topic: "TopicGolden".into(),
        accept_standard_json_only: None,
    };
    let reply = call(&client, &ns.addr, RequestCode::GET_ROUTEINFO_BY_TOPIC, &h).await;
    assert_eq!(reply.language, rmq_remoting::LanguageCode::JAVA);
    assert_eq!(reply.version, 409);
    assert_eq!(
        std::str::from_utf8(&reply.body).unwrap(),
        r#"{"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:30911"},"brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],"filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":4,"topicSynFlag":0,"topicSysFlag":0,"writeQueueNums":4}]}"#
    );
    let missing = rmq_remoting::headers::namesrv::GetRouteInfoRequestHeader {
        topic: "Nope".into(),
        accept_standard_json_only: None,
    };
    let reply = call(&client, &ns.addr, RequestCode::GET_ROUTEINFO_BY_TOPIC, &missing).await;
    assert_eq!(reply.code, ResponseCode::TOPIC_NOT_EXIST.code());
    assert_eq!(
        reply.remark.as_deref(),
        Some("No topic route info in name server for the topic: Nope\nSee http://rocketmq.apache.org/docs/faq/ for further details.")
    );
}

#[tokio::test]
async fn closing_the_registration_connection_drops_the_broker_at_once() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4)]);
    let b = FakeBroker::new("broker-b", 0, "10.0.0.2:10911", &[("T", 4)]);
    a.register(&ns.addr).await;
    b.register(&ns.addr).await;
    let client = RemotingClient::default();
    assert_eq!(route(&client, &ns.addr, "T").await.unwrap().broker_datas.len(), 2);
    a.disconnect(&ns.addr);
    eventually("broker-a removed after its connection closed", || async {
        route(&client, &ns.addr, "T")
            .await
            .is_some_and(|r| r.broker_datas.len() == 1)
    })
    .await;
    let r = route(&client, &ns.addr, "T").await.unwrap();
    assert_eq!(r.broker_datas[0].broker_name, "broker-b");
    assert!(ns
        .server
        .route_table()
        .read()
        .unwrap()
        .broker_data("broker-a")
        .is_none());
    // Another client's connection closing (a producer) touches nothing.
    client.close_connection(&ns.addr);
    let other = RemotingClient::default();
    assert_eq!(route(&other, &ns.addr, "T").await.unwrap().broker_datas.len(), 1);
}

#[tokio::test]
async fn silent_brokers_expire_on_the_scan() {
    let ns = start_namesrv(|c| {
        c.scan_interval = Duration::from_millis(50);
        c.broker_expiry = Duration::from_millis(400);
    })
    .await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4)]);
    a.register(&ns.addr).await;
    let client = RemotingClient::default();
    assert!(route(&client, &ns.addr, "T").await.is_some());
    // The connection stays open; only the silence counts.
    eventually("silent broker expired", || async {
        route(&client, &ns.addr, "T").await.is_none()
    })
    .await;
    assert!(a.client.is_connected(&ns.addr));
    assert_eq!(ns.server.route_table().read().unwrap().live_count(), 0);
}

#[tokio::test]
async fn slave_learns_master_and_group_turns_read_only_without_it() {
    let ns = start_namesrv(|_| {}).await;
    let master = FakeBroker::new("group1", 0, "10.0.0.1:10911", &[("myTopic", 4)]);
    let slave = FakeBroker::new("group1", 1, "10.0.0.2:10911", &[("myTopic", 4)]);
    let other = FakeBroker::new("group2", 0, "10.0.0.3:10911", &[("myTopic", 4)]);

    let early = slave.register(&ns.addr).await;
    assert!(early.is_success());
    assert_eq!(
        early.decode_header::<RegisterBrokerResponseHeader>().unwrap(),
        Default::default()
    );
    master.register(&ns.addr).await;
    other.register(&ns.addr).await;
    let reply = slave.register(&ns.addr).await;
    let learned: RegisterBrokerResponseHeader = reply.decode_header().unwrap();
    assert_eq!(learned.master_addr.as_deref(), Some("10.0.0.1:10911"));
    assert_eq!(learned.ha_server_addr.as_deref(), Some("10.0.0.1:10911-ha"));

    let client = RemotingClient::default();
    master.disconnect(&ns.addr);
    eventually("group1 read-only", || async {
        let r = route(&client, &ns.addr, "myTopic").await.unwrap();
        r.queue_datas
            .iter()
            .any(|q| q.broker_name == "group1" && q.write_queue_nums == 0)
    })
    .await;
    slave.register(&ns.addr).await;
    let r = route(&client, &ns.addr, "myTopic").await.unwrap();
    let g1 = r.broker_datas.iter().find(|b| b.broker_name == "group1").unwrap();
    assert_eq!(
        g1.broker_addrs.values().collect::<Vec<_>>(),
        vec!["10.0.0.2:10911"]
    );
    let q1 = r.queue_datas.iter().find(|q| q.broker_name == "group1").unwrap();
    assert_eq!(
        (q1.read_queue_nums, q1.write_queue_nums, q1.perm),
        (4, 0, perm::READ)
    );
    let q2 = r.queue_datas.iter().find(|q| q.broker_name == "group2").unwrap();
    assert_eq!((q2.write_queue_nums, q2.perm), (4, 6));
    let orphan = slave
        .register(&ns.addr)
        .await
        .decode_header::<RegisterBrokerResponseHeader>()
        .unwrap();
    assert_eq!(orphan.master_addr, None, "no master to hand out");

    // The master comes back on a new connection: writable again.
    master.register(&ns.addr).await;
    let r = route(&client, &ns.addr, "myTopic").await.unwrap();
    let q1 = r.queue_datas.iter().find(|q| q.broker_name == "group1").unwrap();
    assert_eq!((q1.write_queue_nums, q1.perm), (4, 6));

    // Last address of the group gone: group and queue data gone.
    master.disconnect(&ns.addr);
    slave.disconnect(&ns.addr);
    eventually("group1 removed", || async {
        route(&client, &ns.addr, "myTopic")
            .await
            .is_some_and(|r| r.queue_datas.len() == 1)
    })
    .await;
}

#[tokio::test]
async fn wipe_add_delete_unregister_and_data_version() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4), ("U", 4)]);
    a.register(&ns.addr).await;
    let client = RemotingClient::default();
    let name = WipeWritePermOfBrokerRequestHeader {
        broker_name: "broker-a".into(),
    };
    let wiped = call(&client, &ns.addr, RequestCode::WIPE_WRITE_PERM_OF_BROKER, &name).await;
    assert_eq!(wiped.ext("wipeTopicCount"), Some("2"));
    assert_eq!(
        route(&client, &ns.addr, "T").await.unwrap().queue_datas[0].perm,
        perm::READ
    );
    // The periodic re-registration of an unchanged table does not undo the wipe.
    a.register(&ns.addr).await;
    assert_eq!(
        route(&client, &ns.addr, "T").await.unwrap().queue_datas[0].perm,
        perm::READ
    );
    let add = AddWritePermOfBrokerRequestHeader {
        broker_name: "broker-a".into(),
    };
    let added = call(&client, &ns.addr, RequestCode::ADD_WRITE_PERM_OF_BROKER, &add).await;
    assert_eq!(added.ext("addTopicCount"), Some("2"));
    assert_eq!(
        route(&client, &ns.addr, "T").await.unwrap().queue_datas[0].perm,
        6
    );

    let del = DeleteTopicInNamesrvRequestHeader {
        topic: "U".into(),
        cluster_name: None,
    };
    assert!(
        call(&client, &ns.addr, RequestCode::DELETE_TOPIC_IN_NAMESRV, &del)
            .await
            .is_success()
    );
    assert!(route(&client, &ns.addr, "U").await.is_none());

    let query = QueryDataVersionRequestHeader {
        broker_name: "broker-a".into(),
        broker_addr: "10.0.0.1:10911".into(),
        cluster_name: "DefaultCluster".into(),
        broker_id: 0,
    };
    let same = a.body.topic_config_serialize_wrapper.data_version;
    let req = RemotingCommand::request_with(RequestCode::QUERY_DATA_VERSION, &query).with_body(same.encode());
    let reply = a.client.invoke(&ns.addr, req, RPC).await.unwrap();
    assert_eq!(reply.ext("changed"), Some("false"));
    assert_eq!(DataVersion::decode(&reply.body).unwrap(), same);
    let newer = DataVersion { counter: 2, ..same };
    let req =
        RemotingCommand::request_with(RequestCode::QUERY_DATA_VERSION, &query).with_body(newer.encode());
    assert_eq!(
        a.client.invoke(&ns.addr, req, RPC).await.unwrap().ext("changed"),
        Some("true")
    );

    let unreg = UnregisterBrokerRequestHeader {
        broker_name: "broker-a".into(),
        broker_addr: "10.0.0.1:10911".into(),
        cluster_name: "DefaultCluster".into(),
        broker_id: 0,
    };
    assert!(call(&client, &ns.addr, RequestCode::UNREGISTER_BROKER, &unreg)
        .await
        .is_success());
    assert!(route(&client, &ns.addr, "T").await.is_none());
}

#[tokio::test]
async fn compressed_registration_is_accepted() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "10.0.0.1:10911", &[("T", 4), ("TBW102", 8)]);
    let reply = a
        .client
        .invoke(&ns.addr, a.register_request(true), RPC)
        .await
        .unwrap();
    assert!(reply.is_success(), "{reply:?}");
    let client = RemotingClient::default();
    assert_eq!(
        route(&client, &ns.addr, "TBW102").await.unwrap().queue_datas[0].read_queue_nums,
        8
    );
}

#[tokio::test]
async fn unknown_codes_get_not_supported() {
    let ns = start_namesrv(|_| {}).await;
    let client = RemotingClient::default();
    let reply = client
        .invoke(&ns.addr, RemotingCommand::raw_request(9999), RPC)
        .await
        .unwrap();
    assert_eq!(reply.code, ResponseCode::REQUEST_CODE_NOT_SUPPORTED.code());
    let broker_code = RemotingCommand::request_with(RequestCode::SEND_MESSAGE, &EmptyHeader);
    assert_eq!(client.invoke(&ns.addr, broker_code, RPC).await.unwrap().code, 3);
    assert!(EmptyHeader.to_ext_fields().is_empty());
}

#[tokio::test]
async fn cpp_style_and_binary_header_requests_are_answered() {
    let ns = start_namesrv(|_| {}).await;
    let a = FakeBroker::new("broker-a", 0, "127.0.0.1:20911", &[("TBW102", 8)]);
    a.register(&ns.addr).await;
    // As in cpp210-namesrv.log: CPP language, version 333, remark "", extra signature fields.
    let cpp = RemotingClient::new(rmq_remoting::net::ClientConfig {
        language: rmq_remoting::LanguageCode::CPP,
        ..Default::default()
    });
    let mut req = RemotingCommand::request(RequestCode::GET_ROUTEINFO_BY_TOPIC)
        .with_ext("AccessKey", "")
        .with_ext("OnsChannel", "ALIYUN")
        .with_ext("Signature", "YNnBvBklweAp6VG4DK3bGQdOW6U=")
        .with_ext("topic", "TBW102")
        .with_remark("");
    req.version = 333;
    let reply = cpp.invoke(&ns.addr, req, RPC).await.unwrap();
    assert!(reply.is_success());
    assert_eq!(reply.language, rmq_remoting::LanguageCode::JAVA);
    let text = std::str::from_utf8(&reply.body).unwrap();
    assert!(text.contains(r#"{"0":"127.0.0.1:20911"}"#), "{text}");

    let binary = RemotingClient::new(rmq_remoting::net::ClientConfig {
        serialize_type: rmq_remoting::SerializeType::RocketMq,
        ..Default::default()
    });
    let r = route(&binary, &ns.addr, "TBW102")
        .await
        .expect("route over the binary header");
    assert_eq!(r.queue_datas[0].read_queue_nums, 8);
}
