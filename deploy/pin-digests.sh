#!/bin/sh
# Pin every image of the stack to its content digest: `image:tag` → `image:tag@sha256:...`, in place.
#
#   deploy/pin-digests.sh            rewrite compose*.yml and every Dockerfile of the repository
#   deploy/pin-digests.sh --check    list what is not pinned yet and exit 1 if anything is (changes nothing)
#
# A tag can be moved to other content by whoever controls the registry; a digest cannot. Run it on a
# machine that can reach the registries (uses `docker buildx imagetools inspect`, or else `docker pull`
# and the pulled image's RepoDigests), after changing a version, and commit the result. The tag stays in front
# of the digest so that people (and tests/deploy) still read the version; Docker uses only the digest.
# Re-running it refreshes nothing already pinned: to move to a new version, change the tag and delete
# the old @sha256:... first.
set -eu

cd "$(dirname "$0")/.."
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

digest_of() {
    # The digest of the image index (all platforms), as the registry reports it for the tag.
    if docker buildx version >/dev/null 2>&1; then
        docker buildx imagetools inspect "$1" --format '{{json .Manifest.Digest}}' | tr -d '"'
    else
        # Without buildx: pull, and read the digest the registry gave the pulled image.
        docker pull --quiet "$1" >/dev/null
        docker image inspect --format '{{range .RepoDigests}}{{println .}}{{end}}' "$1" | head -n 1 | sed 's/.*@//'
    fi
}

files=$(ls compose*.yml; find . -name Dockerfile -not -path './.venv/*' -not -path './.git/*' -not -path '*/node_modules/*')
unpinned=0
# `image: name:tag` in compose files and `FROM name:tag` in Dockerfiles, without a digest yet.
references=$(grep -hoE '^[[:space:]]*(image:|FROM)[[:space:]]+[^[:space:]@$]+:[^[:space:]@$]+([[:space:]]|$)' $files \
    | awk '{print $2}' | sort -u)
for reference in $references; do
    case "$reference" in
        *@sha256:*) continue ;;
    esac
    # Stage names (FROM runtime AS ...) have no tag and are not matched; skip local build targets anyway.
    unpinned=$((unpinned + 1))
    if $check_only; then
        echo "not pinned: $reference"
        continue
    fi
    digest=$(digest_of "$reference")
    case "$digest" in
        sha256:*) ;;
        *) echo "no digest for $reference: $digest" >&2; exit 1 ;;
    esac
    echo "$reference -> $reference@$digest"
    for file in $files; do
        # Only whole references: the tag followed by the end of the line or a space (e.g. " AS name").
        sed -i -E "s#((image:|FROM)[[:space:]]+)$(printf '%s' "$reference" | sed 's/[.[\*^$/]/\\&/g')([[:space:]]|\$)#\1$reference@$digest\3#" "$file"
    done
done
if $check_only && [ "$unpinned" -gt 0 ]; then
    exit 1
fi
