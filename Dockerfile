# The care-episodes service: one image for the API, the projectors and the tools.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY domain domain
COPY projections projections
COPY infra infra
COPY api api
RUN pip install . && rm -rf /root/.cache \
    && useradd --uid 10001 --no-create-home --shell /usr/sbin/nologin care \
    && install -d -o 10001 -g 10001 -m 700 /var/lib/care/exports

# Never root: the secrets compose mounts are made readable by this user only.
USER 10001:10001
EXPOSE 8000
CMD ["care-episodes", "serve", "--host", "0.0.0.0", "--port", "8000"]
