# One image for every Python service of the project: the agent, the PMS simulator, the
# alert sink, JupyterLab and Locust. docker-compose.yml picks the command per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLBACKEND=Agg

# ffmpeg converts voice notes for the speech-to-text server.
RUN apt-get update && apt-get install -y --no-install-recommends ffmpeg \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /app
COPY pyproject.toml README.md ./
COPY agent ./agent
COPY chaos ./chaos
RUN pip install '.[lab]'
COPY loadtests ./loadtests
COPY notebooks ./notebooks
COPY dashboards ./dashboards
COPY docker ./docker

RUN useradd --create-home --uid 10001 lab && mkdir -p /app/logs && chown lab /app/logs
USER lab
EXPOSE 8080
CMD ["python", "-m", "agent"]
