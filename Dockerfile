# The image every service of docker-compose.yaml runs: Airflow 3.3.2 with this repo's pinned lock.
# dags/, plugins/, include/ and localaws/ are mounted by docker-compose.yaml, not copied, so edits show at once.
FROM apache/airflow:3.3.2-python3.11

# localaws writes its CA here (a named volume, which starts with this directory's owner) for Airflow to read.
USER root
RUN mkdir -p /opt/localaws-tls /opt/sales-stream && chown airflow:root /opt/localaws-tls /opt/sales-stream
USER airflow

# requirements.txt is the complete lock compiled from requirements.in (`make lock`); it pins apache-airflow
# itself, and naming the base image's version again makes pip refuse any resolution that would move it.
COPY --chown=airflow:root requirements.txt /opt/sales-stream/requirements.txt
RUN pip install --no-cache-dir "apache-airflow==${AIRFLOW_VERSION}" -r /opt/sales-stream/requirements.txt
