# minirmq: nameserver, broker and tools in one image. The binaries are statically linked and built
# on the host by scripts/docker-build.sh (there is no base image to build in).
FROM scratch
COPY target/docker-dist/ /usr/local/bin/
ENV PATH=/usr/local/bin RUST_LOG=info
# nameserver 9876; broker listen 10911, HA 10912, VIP 10909
EXPOSE 9876 10909 10911 10912
CMD ["mqnamesrv", "--listen-port", "9876", "--home", "/data/namesrv"]
