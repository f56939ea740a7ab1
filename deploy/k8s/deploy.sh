#!/usr/bin/env bash
# Deploy one environment of the event dispatcher to Kubernetes, gated by receiver STOP/START.
#
# Usage: deploy/k8s/deploy.sh [--dry-run] dev|uat|prod
#
# The overlay deploy/k8s/overlays/ENV says everything: namespace, image and tag, DEPLOYMENT_VERSION.
# Steps (README, "Deploying to Kubernetes"):
#   1. render the overlay (kubectl kustomize);
#   2. check that the namespace holds the Secret event-dispatcher-secrets;
#   3. apply the new configuration and the job templates (running pods keep their own ConfigMap);
#   4. preflight job: the new image starts and accepts the configuration, before anything is stopped;
#   5. STOP gate job: every receiver of the version is down and idle;
#   6. pause the ScaledObjects, so the backlog building while stopped does not scale out stopped pods;
#   7. migrations job;
#   8. apply the whole overlay and wait for every Deployment's rollout;
#   9. START gate job: the new instances are up;
#  10. unpause the ScaledObjects.
# On any failure after the STOP went out: undo the rollouts if the overlay was applied, START the
# version's receivers again, unpause the ScaledObjects, and exit non-zero.
#
# --dry-run renders the overlay for real and prints every kubectl call that would read or change the
# cluster, in order, without making it. DRY_RUN_FAIL_AT=STEP (a step name as printed) rehearses a
# failure of that step, to show the recovery. Environment: KUBECTL (default kubectl), JOB_TIMEOUT
# (seconds a job may take, default 600), ROLLOUT_TIMEOUT (seconds per Deployment, default 600).
set -euo pipefail

KUBECTL=${KUBECTL:-kubectl}
JOB_TIMEOUT=${JOB_TIMEOUT:-600}
ROLLOUT_TIMEOUT=${ROLLOUT_TIMEOUT:-600}
APP_SELECTOR=app.kubernetes.io/name=event-dispatcher
HERE=$(cd "$(dirname "$0")" && pwd)

DRY_RUN=
if [[ ${1:-} == --dry-run ]]; then
  DRY_RUN=1
  shift
fi
ENVIRONMENT=${1:-}
if [[ $# -ne 1 || ! -f $HERE/overlays/$ENVIRONMENT/kustomization.yaml ]]; then
  echo "usage: $0 [--dry-run] ENVIRONMENT (an overlay: dev, uat, prod)" >&2
  exit 2
fi

STEP=render
STOPPED=
APPLIED=
STAMP=$(date -u +%Y%m%d-%H%M%S)
JOBS=0
WORK=$(mktemp -d)
MANIFESTS=$WORK/manifests.yaml
exec 3>&1 # dry-run lines go to the real stdout, even from inside $(...)

say() {
  printf '== %s\n' "$*" >&3
}

# A kubectl call that reads or changes the cluster: printed instead of made in a dry run.
cluster() {
  if [[ -n $DRY_RUN ]]; then
    printf '+ kubectl' >&3
    printf ' %q' "$@" >&3
    printf '\n' >&3
    # An explicit status: a bare return inside the EXIT trap would return the failure that fired it.
    if [[ ${DRY_RUN_FAIL_AT:-} == "$STEP" ]]; then
      return 1
    fi
    return 0
  fi
  "$KUBECTL" "$@"
}

# The metadata.name of every rendered object of one kind (kustomize writes metadata.name two spaces in).
rendered_names() {
  awk -v kind="$1" '
    /^---/ { wanted = 0 }
    $0 == "kind: " kind { wanted = 1 }
    wanted && /^  name: / { print $2; wanted = 0 }
  ' "$MANIFESTS"
}

first_value() {
  awk -v key="$1" '$1 == key ":" { print $2; exit }' "$MANIFESTS"
}

job_state() {
  if [[ -n $DRY_RUN ]]; then
    cluster get job "$1" -n "$NAMESPACE" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}' &&
      echo Complete || echo Failed
    return 0
  fi
  "$KUBECTL" get job "$1" -n "$NAMESPACE" -o 'jsonpath={.status.conditions[?(@.status=="True")].type}'
}

# Run one job from its template (jobs.yaml) and wait for it; its log is printed either way.
run_job() {
  JOBS=$((JOBS + 1))
  local job="$1-$STAMP-$JOBS" state deadline=$((SECONDS + JOB_TIMEOUT))
  cluster create job "$job" --from="cronjob/$1" -n "$NAMESPACE" || return 1
  while true; do
    state=$(job_state "$job")
    case $state in
      *Complete*)
        cluster logs "job/$job" -n "$NAMESPACE"
        return 0
        ;;
      *Failed*)
        cluster logs "job/$job" -n "$NAMESPACE" || true
        echo "job $job failed" >&2
        return 1
        ;;
    esac
    if ((SECONDS >= deadline)); then
      echo "job $job did not finish within ${JOB_TIMEOUT}s" >&2
      return 1
    fi
    sleep 5
  done
}

scaled_objects() {
  if [[ -n $DRY_RUN ]]; then
    cluster get scaledobject -n "$NAMESPACE" -l "$APP_SELECTOR" -o name >/dev/null
    rendered_names ScaledObject | sed 's|^|scaledobject.keda.sh/|'
    return 0
  fi
  "$KUBECTL" get scaledobject -n "$NAMESPACE" -l "$APP_SELECTOR" -o name
}

# Pause (true) or unpause (false) every ScaledObject of the app that exists.
pause_scaling() {
  local objects
  objects=$(scaled_objects)
  if [[ -z $objects ]]; then
    say "no ScaledObject yet: nothing to $([[ $1 == true ]] && echo pause || echo unpause)"
    return 0
  fi
  if [[ $1 == true ]]; then
    # shellcheck disable=SC2086 # one word per object name
    cluster annotate $objects -n "$NAMESPACE" autoscaling.keda.sh/paused=true --overwrite
  else
    # shellcheck disable=SC2086
    cluster annotate $objects -n "$NAMESPACE" autoscaling.keda.sh/paused-
  fi
}

recover() {
  STEP=recover
  say "FAILED: starting the receivers of $VERSION again"
  if [[ -n $APPLIED ]]; then
    local deployment
    for deployment in $(rendered_names Deployment); do
      cluster rollout undo "deployment/$deployment" -n "$NAMESPACE" || true
    done
    cluster rollout status deployment -n "$NAMESPACE" -l "$APP_SELECTOR" --timeout "${ROLLOUT_TIMEOUT}s" || true
  fi
  if ! run_job event-dispatcher-receivers-start; then
    say "START did not complete: check with 'manage.py receivers status' and start them by hand (README)"
  fi
  pause_scaling false || true
}

on_exit() {
  local status=$?
  if ((status != 0)) && [[ -n $STOPPED ]]; then
    recover
  fi
  rm -rf "$WORK"
  if ((status != 0)); then
    say "deploy of $ENVIRONMENT failed (exit $status)"
  fi
  exit "$status"
}
trap on_exit EXIT

say "render: overlays/$ENVIRONMENT"
"$KUBECTL" kustomize "$HERE/overlays/$ENVIRONMENT" >"$MANIFESTS"
NAMESPACE=$(first_value namespace)
IMAGE=$(first_value image)
VERSION=$(awk '$1 == "DEPLOYMENT_VERSION:" { print $2; exit }' "$MANIFESTS")
say "deploying $IMAGE to namespace $NAMESPACE as $VERSION${DRY_RUN:+ (dry run)}"

STEP=secret
say "$STEP: the Secret event-dispatcher-secrets"
cluster get secret event-dispatcher-secrets -n "$NAMESPACE" -o name

STEP=prepare
say "$STEP: configuration and job templates"
cluster apply -f "$MANIFESTS" -l 'app.kubernetes.io/component in (config,deploy-job)'

STEP=preflight
say "$STEP: the new image with the new configuration"
run_job event-dispatcher-preflight

STEP=stop
say "$STEP: receivers of $VERSION"
STOPPED=1
run_job event-dispatcher-receivers-stop

STEP=pause
say "$STEP: autoscaling"
pause_scaling true

STEP=migrate
say "$STEP: database migrations"
run_job event-dispatcher-migrate

STEP=apply
say "$STEP: the overlay, then every rollout"
APPLIED=1
cluster apply -f "$MANIFESTS"
cluster rollout status deployment -n "$NAMESPACE" -l "$APP_SELECTOR" --timeout "${ROLLOUT_TIMEOUT}s"

STEP=start
say "$STEP: receivers of $VERSION"
run_job event-dispatcher-receivers-start
STOPPED=

STEP=unpause
say "$STEP: autoscaling"
pause_scaling false

say "deployed $IMAGE to $NAMESPACE"
