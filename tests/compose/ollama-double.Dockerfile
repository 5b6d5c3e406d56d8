# TEST AID: the project's Ollama double (tests/doubles/ollama.py) in an image, for compose.test.yaml on machines
# where the Ollama image and a model cannot be had. Build context: the repository root.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm
FROM ${PYTHON_IMAGE}
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN pip install "fastapi==0.165.0" "uvicorn==0.54.0"
WORKDIR /opt/double
COPY tests/__init__.py tests/__init__.py
COPY tests/doubles/__init__.py tests/doubles/ollama.py tests/doubles/ollama_content.py tests/doubles/ollama_logprobs.py tests/doubles/
RUN useradd --create-home --uid 10001 double
USER double
EXPOSE 11434
CMD ["python", "-m", "tests.doubles.ollama", "--host", "0.0.0.0", "--port", "11434", "--models", "gemma3,llama3.1,embeddinggemma"]
