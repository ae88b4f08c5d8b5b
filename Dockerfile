# Multi-stage build: a static binary on a distroless base.
#
#   docker build -t lvs-sidecar .
#   docker run -d --name lvs-sidecar --net=host \
#       --cap-add NET_ADMIN --cap-add NET_RAW \
#       -v /etc/lvs-sidecar:/etc/lvs-sidecar:ro lvs-sidecar
#
# --net=host puts the sidecar in the director's network namespace, where the
# IPVS table lives. NET_ADMIN is needed to read and change IPVS over netlink,
# NET_RAW for ICMP and SYN checks. Nothing else is needed; do not use
# --privileged. Without --net=host, mount the host's namespace file and pass
# --ipvs.netns=/host/proc/1/ns/net (with -v /proc/1/ns:/host/proc/1/ns:ro
# and --pid=host), still with the two capabilities.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN make build

FROM gcr.io/distroless/static-debian12
COPY --from=build /src/bin/lvs-sidecar /usr/bin/lvs-sidecar
EXPOSE 9960
ENTRYPOINT ["/usr/bin/lvs-sidecar"]
