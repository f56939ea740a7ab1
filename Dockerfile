FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY . .
RUN mkdir -p var/static && useradd --system --uid 10001 dispatcher && chown -R dispatcher var
# Numeric, so Kubernetes can check runAsNonRoot (deploy/k8s runs every pod as 10001).
USER 10001
EXPOSE 8000
CMD ["gunicorn", "-c", "dispatcher_site/gunicorn.conf.py", "dispatcher_site.wsgi"]
