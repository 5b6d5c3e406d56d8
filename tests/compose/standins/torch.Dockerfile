# Stand-in for pytorch/pytorch:2.13.0-cuda12.8-cudnn9-runtime (test aid, see build.sh): the python stand-in
# with the pinned torch, CPU build (the wheel is downloaded on the host by build.sh into this context).
ARG PYTHON
FROM ${PYTHON}
COPY torch-*.whl /tmp/
RUN pip install --quiet --no-cache-dir /tmp/torch-*.whl && rm /tmp/torch-*.whl \
    && python -c "import torch; print(torch.__version__)"
CMD ["python"]
