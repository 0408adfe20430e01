# pydepot in a container (docs/deploy.md).
#
#   docker build -t pydepot .
#   docker run --rm -p 8080:8080 -e PYDEPOT_STORAGE=gs://BUCKET pydepot
#
# Settings come from the environment (PYDEPOT_<FLAG>, e.g. PYDEPOT_STORAGE, PYDEPOT_PUBLIC_READ),
# a TOML file (PYDEPOT_CONFIG=/path/to/pydepot.toml) or arguments after the image name, which are
# passed to `pydepot serve`. The platform's PORT picks the port (0.0.0.0:$PORT).

# ---- build: Debian 12 with the build dependencies, a Release build of the binary alone ----
FROM debian:12 AS build
COPY scripts/deps.sh /src/scripts/deps.sh
RUN /src/scripts/deps.sh build && rm -rf /var/lib/apt/lists/*
COPY . /src
WORKDIR /src
RUN rm -rf build \
 && cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DPYDEPOT_BUILD_TESTS=OFF \
      -DPYDEPOT_BUILD_BENCH=OFF \
 && cmake --build build --target pydepot -j"$(nproc)" \
 && strip build/pydepot \
 && build/pydepot version

# ---- runtime: debian:12-slim with only the shared libraries the binary links ----
# The package list is what `ldd build/pydepot` resolves, mapped to packages with `dpkg -S`
# (their own dependencies come along); tests/e2e/test_deploy.py checks it against the binary.
# ca-certificates: TLS to S3, GCS and the upstream index.
FROM debian:12-slim AS runtime
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates \
      libarchive13 \
      libboost-json1.81.0 \
      libboost-url1.81.0 \
      libcmark-gfm-extensions0.29.0.gfm.6 \
      libcmark-gfm0.29.0.gfm.6 \
      libcurl4 \
      libnghttp2-14 \
      libpugixml1v5 \
      libsodium23 \
      libssl3 \
      libstdc++6 \
      zlib1g \
 && rm -rf /var/lib/apt/lists/*
RUN groupadd --system --gid 10001 pydepot \
 && useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/pydepot --create-home \
      --shell /usr/sbin/nologin pydepot
COPY --from=build /src/build/pydepot /usr/local/bin/pydepot
USER 10001:10001
WORKDIR /var/lib/pydepot
ENV PORT=8080
EXPOSE 8080
# No HEALTHCHECK: the image has no curl or wget, and the platforms probe /healthz themselves.
ENTRYPOINT ["/usr/local/bin/pydepot", "serve"]
