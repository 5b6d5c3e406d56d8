# Stand-in for ghcr.io/berriai/litellm:v1.108.7 (test aid, see build.sh): the python stand-in with the pinned
# LiteLLM release and its proxy extras from PyPI, in /app like the official image.
ARG PYTHON
FROM ${PYTHON}
RUN pip install --quiet --no-cache-dir "litellm[proxy]==1.108.7"
WORKDIR /app
EXPOSE 4000
CMD ["litellm", "--port", "4000"]
