# minirmq: nameserver, broker, tools and client examples in one image. The binaries are
# statically linked and built on the host by scripts/docker-build.sh (there is no base image to
# build in): mqnamesrv, mqbroker, mqadmin, rmq-cluster, rmq-bench, produce, consume.
FROM scratch
COPY target/docker-dist/ /usr/local/bin/
# NAMESRV_ADDR: the nameservers of docker-compose.yml, so mqadmin, produce and consume in a
# container need no -n / --namesrv.
ENV PATH=/usr/local/bin RUST_LOG=info NAMESRV_ADDR="10.28.0.10:9876;10.28.0.11:9876"
# nameserver 9876; broker listen 10911, HA 10912, VIP 10909
EXPOSE 9876 10909 10911 10912
CMD ["mqnamesrv", "--listen-port", "9876", "--home", "/data/namesrv"]
