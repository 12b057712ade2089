# The Redline agent. Built by docker-compose.yml; runs in the host's pid and network namespaces
# there so that it sees the host's processes, their sockets and /proc/net.
FROM node:20.20.0-bookworm-slim AS build
# python3, make, g++: unix-dgram (the unix datagram listener) is a native addon.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --ignore-scripts && npm rebuild unix-dgram
# The product's sources, stage by stage (test/dockerfile.e2e.test.ts builds exactly these).
COPY tsconfig.json tsconfig.build.json index.ts ./
COPY agent ./agent
COPY collector ./collector
COPY core ./core
COPY analysis ./analysis
COPY exporters ./exporters
COPY demo ./demo
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev --ignore-scripts

FROM node:20.20.0-bookworm-slim
# iproute2: `ss -ltn` gives the listen backlog of each socket (redline_listen_queue_limit).
RUN apt-get update && apt-get install -y --no-install-recommends iproute2 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The live view's page script and styles (served from the package, not compiled).
COPY exporters/live/assets ./exporters/live/assets
COPY bin ./bin
# Read at run time: `--preset NAME` loads presets/NAME.yml.
COPY presets ./presets
EXPOSE 8125/udp 8125/tcp 9102/tcp
ENTRYPOINT ["node", "/app/bin/redline.js"]
CMD ["--config=/etc/redline/redline.yaml"]
