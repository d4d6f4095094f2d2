#!/usr/bin/env bash
# Ingest new LEAF exports into the cube, then publish the cube to a web server's folder.
# Safe to run often: ingest skips exports it already has, publish copies only what changed
# (catalogue last), and a run that finds the previous one still going skips itself.
#
# Settings (environment):
#   LEAF_EXPORTS        folder where new LEAF exports arrive          (required)
#   LEAFCUBE_CUBE       the cube folder                               (required)
#   LEAFCUBE_WWW        the web server's folder to publish into       (required)
#   LEAFCUBE_BASE_URL   public URL of LEAFCUBE_WWW                    (required)
#   LEAFCUBE            the leafcube command        (default: leafcube on PATH)
#   LEAFCUBE_INGEST_OPTIONS  more options for ingest, e.g. "--workers 4 --trust-folder-times"
#                       (default: none; split on spaces, so no option value may hold one;
#                       see docs/ingest.md before trusting folder times)
#   LEAFCUBE_LOCK       lock file                   (default: /tmp/leafcube-update.lock)
# Exit status: that of the ingest (publish still runs: every file that did ingest is
# complete and catalogued), or publish's own when it fails.
set -euo pipefail

: "${LEAF_EXPORTS:?set LEAF_EXPORTS}" "${LEAFCUBE_CUBE:?set LEAFCUBE_CUBE}"
: "${LEAFCUBE_WWW:?set LEAFCUBE_WWW}" "${LEAFCUBE_BASE_URL:?set LEAFCUBE_BASE_URL}"
LEAFCUBE=${LEAFCUBE:-leafcube}

exec 9>"${LEAFCUBE_LOCK:-/tmp/leafcube-update.lock}"
if ! flock -n 9; then
  echo "$(date -u +%FT%TZ) leafcube-update: the previous run is still going; skipping"
  exit 0
fi

echo "$(date -u +%FT%TZ) leafcube-update: ingest $LEAF_EXPORTS -> $LEAFCUBE_CUBE"
status=0
read -ra options <<< "${LEAFCUBE_INGEST_OPTIONS:-}"
"$LEAFCUBE" ingest "$LEAF_EXPORTS" --cube "$LEAFCUBE_CUBE" --quiet ${options[@]+"${options[@]}"} \
  || status=$?

echo "$(date -u +%FT%TZ) leafcube-update: publish -> $LEAFCUBE_WWW ($LEAFCUBE_BASE_URL)"
"$LEAFCUBE" publish --cube "$LEAFCUBE_CUBE" --to "$LEAFCUBE_WWW" \
  --base-url "$LEAFCUBE_BASE_URL" --quiet
exit "$status"
