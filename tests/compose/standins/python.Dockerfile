# Stand-in for python:3.11.14-slim-bookworm (test aid, see build.sh): Debian's python3.11 as a venv in
# /usr/local, so that `python` and `pip` are on PATH and install system-wide as in the official image.
ARG BASE
FROM ${BASE}
ENV LANG=C.UTF-8 \
    PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    REQUESTS_CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
COPY ca/ /usr/local/share/ca-certificates/
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
         ca-certificates python3 python3-venv \
    && update-ca-certificates >/dev/null \
    && python3 -m venv /usr/local \
    && /usr/local/bin/pip install --quiet --no-cache-dir --upgrade "pip==25.3" \
    && rm -rf /var/lib/apt/lists/*
CMD ["python3"]
