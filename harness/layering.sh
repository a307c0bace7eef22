#!/bin/sh
# layering.sh: fail when an include points back up the data flow.
#
# The rooms of the tree, earliest in the flow first (harness/README.md maps
# them). A file may include headers of its own room and of rooms ranked
# earlier; rooms of equal rank do not include each other. From another
# harness wing only the wing's public header, harness/W/W.h, may be
# included. tests/ sits after everything and is not checked. Generated
# sources (given as arguments, e.g. build/release/gen/harness/report/X.c)
# belong to the room of their path below gen/ and are checked the same way.
#   sh harness/layering.sh [GENERATED.c...]          check (exit 1 on a violation)
#   sh harness/layering.sh --edges [GENERATED.c...]  also print every cross-room include
set -eu
cd "$(dirname "$0")/.."

rank() {
    case "$1" in
    kernels) echo 0 ;;
    kernels/cpu | kernels/cuda) echo 1 ;;
    models | datasets) echo 2 ;;
    harness/stats) echo 3 ;;
    harness/experiment) echo 4 ;;
    harness/store) echo 5 ;;
    harness/run) echo 6 ;;
    harness/report) echo 7 ;;
    harness/cli) echo 8 ;;
    *) echo "" ;;
    esac
}

edges=0
if [ "${1:-}" = "--edges" ]; then
    edges=1
    shift
fi
generated="$*"
for g in $generated; do
    case "$g" in
    */gen/*) ;;
    *)
        echo "layering: $g: a generated source must lie below a gen/ folder" >&2
        exit 1
        ;;
    esac
done
bad=0
files=$(git ls-files 'kernels/*.[ch]' 'kernels/*.cu' 'kernels/*.cuh' 'models/*.[ch]' \
    'datasets/*.[ch]' 'harness/*.[ch]' 2>/dev/null || find kernels models datasets harness \
    -name '*.[ch]' -o -name '*.cu' -o -name '*.cuh')
for f in $files $generated; do
    case " $generated " in
    *" $f "*) from=$(dirname "${f#*/gen/}") ;;
    *) from=$(dirname "$f") ;;
    esac
    rf=$(rank "$from")
    if [ -z "$rf" ]; then
        echo "layering: $f: folder $from has no place in the flow (add it to harness/layering.sh and harness/README.md)" >&2
        bad=1
        continue
    fi
    # "N:path" for every quoted include
    grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" |
        sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1 \2/' >"${TMPDIR:-/tmp}/vb_layering.$$" || true
    while read -r line inc; do
        if [ -e "$from/$inc" ]; then
            target="$from/$inc"
        else
            target="$inc"
        fi
        to=$(dirname "$target")
        # normalise "a/b/../c"
        to=$(echo "$to" | sed -e 's|/\./|/|g' -e 's|^\./||')
        [ "$to" = "$from" ] && continue
        rt=$(rank "$to")
        [ $edges -eq 1 ] && echo "edge: $from -> $to ($f:$line)"
        if [ -z "$rt" ]; then
            echo "layering: $f:$line: includes \"$inc\" from $to, which has no place in the flow" >&2
            bad=1
        elif [ "$rt" -ge "$rf" ]; then
            echo "layering: $f:$line: includes \"$inc\": $to is not earlier in the flow than $from" >&2
            bad=1
        else
            case "$from:$to" in
            harness/*:harness/*)
                wing=${to#harness/}
                if [ "$(basename "$target")" != "$wing.h" ]; then
                    echo "layering: $f:$line: includes \"$inc\": from another wing include only its public header harness/$wing/$wing.h" >&2
                    bad=1
                fi
                ;;
            esac
        fi
    done <"${TMPDIR:-/tmp}/vb_layering.$$"
    rm -f "${TMPDIR:-/tmp}/vb_layering.$$"
done
if [ $bad -ne 0 ]; then
    echo "layering: includes point back up the flow (harness/README.md has the map)" >&2
    exit 1
fi
echo "layering: ok ($(echo $files $generated | wc -w) files, no include points back up the flow)"
