# listening-bot: one image for the bot workers and the one-off migration job.
# Build stage: install the package into a virtual environment (wheels only; no compiler needed).
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY bot ./bot
COPY storage ./storage
RUN python -m venv /opt/venv && /opt/venv/bin/pip install --only-binary=:all: .

# Final stage: the slim Python base, the venv, the campaign file; no build tools, not root.
FROM python:3.11-slim
RUN groupadd --system --gid 10001 listening \
 && useradd --system --uid 10001 --gid listening --home-dir /app --shell /usr/sbin/nologin listening
COPY --from=build /opt/venv /opt/venv
COPY --chown=listening:listening config /app/config
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LISTENING_CONFIG=/app/config/campaign.yaml \
    LISTENING_LOG_FORMAT=json \
    MONITORING_LISTEN=0.0.0.0 \
    MONITORING_PORT=9100
WORKDIR /app
USER listening
# 8443: Telegram webhook, 3000: Slack Events API, 9100: /healthz /readyz /metrics
EXPOSE 8443 3000 9100
HEALTHCHECK --interval=30s --timeout=5s --start-period=40s --retries=3 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9100/healthz', timeout=4)"]
ENTRYPOINT ["listening-bot"]
CMD ["run"]
