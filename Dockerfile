FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY requirements/ requirements/
RUN pip install --no-cache-dir -r requirements/base.txt
COPY . .
RUN mkdir -p var/static && useradd --system dispatcher && chown -R dispatcher var
USER dispatcher
EXPOSE 8000
CMD ["gunicorn", "-c", "dispatcher_site/gunicorn.conf.py", "dispatcher_site.wsgi"]
