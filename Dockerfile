# Multi-stage build: a static binary on a distroless base.
#
#   docker build -t lvs-sidecar .
#   docker run -d --name lvs-sidecar --net=host \
#       --cap-add NET_ADMIN --cap-add NET_RAW \
#       -v /etc/lvs-sidecar:/etc/lvs-sidecar:ro \
#       -v /var/lib/lvs-sidecar:/var/lib/lvs-sidecar lvs-sidecar \
#       --config.file=/etc/lvs-sidecar/lvs.yml \
#       --state.file=/var/lib/lvs-sidecar/state.json \
#       --web.config.file=/etc/lvs-sidecar/web.yml \
#       --web.enable-admin-api --web.admin-user=admin
#
# Every write endpoint is off by default; the last three lines are the safe
# way to turn the maintenance API on: web.yml holds tls_server_config and
# basic_auth_users (a scrape user that may only read, and "admin"), and only
# the --web.admin-user users may write. Without --web.enable-admin-api the
# container only exports and checks; lvs-sidecar refuses to start when a
# write endpoint is on without basic auth or with an unknown administrator.
#
# --state.file on a volume keeps maintenance across container restarts and
# records what the controller applied, so a restarted container tells its
# own drains from drains made by hand (those it holds in maintenance).
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
