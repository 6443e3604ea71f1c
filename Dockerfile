# syntax=docker/dockerfile:1
# One image for every PayFlow process; the command picks which one runs:
#   python -m payflow_gateway | payflow_orchestrator | payflow_wallet | payflow_ledger
#   | payflow_webhooks | payflow_webhooks.worker
# Build: docker build -t payflow:dev .   (docker compose builds it for you)

ARG PYTHON_IMAGE=python:3.11-slim
# Same minor release as the uv that wrote uv.lock (the Makefile installs it into .payflow/tools).
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.13

FROM ${UV_IMAGE} AS uv

# Only the workspace manifests, so that the dependency layer below is rebuilt when a
# pyproject.toml changes and not when source code does (COPY --from is cached by content).
FROM ${PYTHON_IMAGE} AS manifests
WORKDIR /src
COPY apps apps
COPY libs libs
RUN find apps libs -type f ! -name pyproject.toml -delete

FROM ${PYTHON_IMAGE} AS builder
COPY --from=uv /uv /uvx /bin/
ENV UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PROJECT_ENVIRONMENT=/app/.venv
WORKDIR /app
# The five application packages and what they need; the dev group, the embedded stores
# (payflow-devstack) and the test support (payflow-testing) stay out of the image.
ARG PAYFLOW_PACKAGES="--package payflow-gateway --package payflow-orchestrator --package payflow-wallet --package payflow-ledger --package payflow-webhooks"
COPY pyproject.toml uv.lock .python-version ./
COPY --from=manifests /src/ ./
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev ${PAYFLOW_PACKAGES} --no-install-workspace
COPY apps apps
COPY libs libs
# Non-editable: the venv holds the packages themselves, so the runtime stage needs no source tree.
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev ${PAYFLOW_PACKAGES} --no-editable

FROM ${PYTHON_IMAGE} AS runtime
RUN groupadd --system --gid 10001 payflow \
    && useradd --system --uid 10001 --gid payflow --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin payflow
# Owned by root: the service user can run the code but not change it.
COPY --from=builder /app/.venv /app/.venv
ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    PAYFLOW_HOST=0.0.0.0 \
    PAYFLOW_RUN_DIR=/tmp/payflow/run
WORKDIR /app
# Numeric, so that Kubernetes can verify runAsNonRoot without a passwd lookup.
USER 10001:10001
# gateway 8000, orchestrator 8001, wallet 8002, ledger 8003, webhooks 8004, webhooks-worker 8005
EXPOSE 8000-8005
CMD ["python", "-m", "payflow_gateway"]
