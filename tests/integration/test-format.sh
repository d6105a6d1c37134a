#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# memleak report --format json|folded|svg|script|perf-data|pprof on a
# recording of "leaky all", each read back by a real consumer: python's
# json and XML parsers, perf report and perf script (linux-perf), protoc
# --decode with pprof's profile.proto.
. "$(dirname "$0")/../lib.sh"
build_targets

DATA=$OUT/leaky.data
PROTO_DIR=/usr/share/gocode/src/github.com/google/pprof/proto
LEAKY=$ROOT/build/targets/leaky
TAB=$'\t'

ml record record -o "$DATA" -- ./build/targets/leaky all
check_exit "record: exits 0" 0

# ---------------------------------------------------------------- json
ml json report -i "$DATA" --format json -a
check_exit "json: exits 0" 0
if python3 - "$ML_OUT" >"$OUT/json.check" 2>&1 <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["schema"] == "memleak-report" and d["schema_version"] == 1
assert d["totals"]["bytes"] == 113752 and d["totals"]["allocations"] == 130
assert isinstance(d["lost"]["missed_free"], int) and isinstance(d["lost"]["prog_misses"], int)
e = d["entries"]
print(" ".join("%d/%d" % (x["bytes"], x["allocations"]) for x in e))
direct = [x for x in e if x["frames"][0]["function"] == "leak_direct"][0]
assert direct["bytes"] == 4800 and direct["allocations"] == 100
assert direct["frames"][0]["file"] == "leaky.c" and direct["frames"][1]["function"] == "main"
assert direct["frames"][0]["dso"].endswith("/build/targets/leaky")
assert len(direct["blocks"]) == 100 and all(b["size"] == 48 for b in direct["blocks"])
assert abs(sum(x["percent"] for x in e) - 100) < 0.01
print("ok")
PY
then
	pass "json: parses; totals, entries, frames and blocks as recorded"
else
	fail "json: python's json module reads it as specified" "$(cat "$OUT/json.check")"
fi
check_grep "json: entries in order of bytes" '^100000/1 5000/5 4800/100 3200/10 512/4 240/10$' "$OUT/json.check"

# ---------------------------------------------------------------- folded
ml folded report -i "$DATA" --format folded
check_count "folded: a line per stack" 6 '^leaky;[^ ]+ [0-9]+$' "$ML_OUT"
check_grep "folded: comm;outer;...;leaf BYTES" \
	'^leaky;_start;__libc_start_main;__libc_start_call_main;main;leak_direct 4800$' "$ML_OUT"
check_eq "folded: the weights add up to the total bytes" 113752 \
	"$(awk '{ s += $NF } END { print s }' "$ML_OUT")"
ml folded-count report -i "$DATA" --format folded --weight count
check_grep "folded --weight count: allocations" 'main;leak_direct 100$' "$ML_OUT"

# ---------------------------------------------------------------- svg
ml svg report -i "$DATA" --format svg -o "$OUT/leaks.svg"
check_exit "svg: exits 0" 0
if python3 -c 'import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])' "$OUT/leaks.svg" 2>"$OUT/svg.check"; then
	pass "svg: well-formed XML"
else
	fail "svg: well-formed XML" "$(cat "$OUT/svg.check")"
fi
check_grep "svg: the root frame's tooltip has all bytes and allocations" \
	'<title>all \(113752 bytes, 100\.00%; 130 allocations, 100\.00%\)</title>' "$OUT/leaks.svg"
check_grep "svg: leak_direct's tooltip has its bytes and count" \
	'<title>leak_direct \(4800 bytes, 4\.22%; 100 allocations, 76\.92%\)</title>' "$OUT/leaks.svg"
check_grep "svg: main sums its callees" '<title>main \(113752 bytes, 100\.00%; 130 allocations' "$OUT/leaks.svg"

# ---------------------------------------------------------------- script
ml script script -i "$DATA"
check_exit "script: exits 0" 0
check_count "script: a header line per stack" 6 \
	'^leaky [0-9]+/[0-9]+ [0-9]+\.[0-9]{6}: [0-9]+ memleak:outstanding:$' "$ML_OUT"
check_grep "script: PERIOD is the outstanding bytes" '^leaky [0-9]+/[0-9]+ [0-9.]+: 4800 memleak:outstanding:$' "$ML_OUT"
check_grep "script: a frame a line, tab addr sym+off (dso)" \
	"^$TAB +[0-9a-f]+ leak_direct\\+0x[0-9a-f]+ \\($(ere "$LEAKY")\\)\$" "$ML_OUT"
check_eq "script: a blank line after each stack" 6 "$(grep -c '^$' "$ML_OUT")"

# ---------------------------------------------------------------- perf-data
ml perfdata report -i "$DATA" --format perf-data -o "$OUT/perf.data"
check_exit "perf-data: exits 0" 0
perf report -i "$OUT/perf.data" --stdio --no-children >"$OUT/perf-report.out" 2>"$OUT/perf-report.err"
check_eq "perf report: exits 0" 0 "$?"
check_grep "perf report: the event by name" "^# Samples: 6  of event 'memleak:outstanding'$" "$OUT/perf-report.out"
check_grep "perf report: event count = outstanding bytes" '^# Event count \(approx\.\): 113752$' "$OUT/perf-report.out"
check_grep "perf report: leak_realloc 87.91% in leaky" '^ +87\.91% +leaky +leaky +\[\.\] leak_realloc$' "$OUT/perf-report.out"
check_grep "perf report: leak_direct 4.22%" '^ +4\.22% +leaky +leaky +\[\.\] leak_direct$' "$OUT/perf-report.out"
check_grep "perf report: call chains (main under leak_direct)" '^               main$' "$OUT/perf-report.out"
perf report -i "$OUT/perf.data" --stdio --no-children --sort sym -F overhead,sym >"$OUT/perf-sym.out" 2>/dev/null
check_grep "perf report --sort sym: __strdup in libc" '^ +0\.21% +\[\.\] __strdup$' "$OUT/perf-sym.out"
perf script -i "$OUT/perf.data" -F comm,pid,tid,period,event,ip,sym,dso >"$OUT/perf-script.out" 2>"$OUT/perf-script.err"
check_eq "perf script: exits 0" 0 "$?"
check_grep "perf script: leak_direct's sample with its period" '^ *leaky +[0-9]+/[0-9]+ +4800 memleak:outstanding: *$' "$OUT/perf-script.out"
check_grep "perf script: frames named from the MMAP records" \
	"^$TAB +[0-9a-f]+ leak_direct \\($(ere "$LEAKY")\\)\$" "$OUT/perf-script.out"
check_grep "perf script: libc frames too" $'^\t +[0-9a-f]+ __libc_start_call_main \\(.*libc\\.so\\.6\\)$' "$OUT/perf-script.out"
perf report -i "$OUT/perf.data" --header-only >"$OUT/perf-header.out" 2>/dev/null
check_grep "perf header: memleak's command line" '^# cmdline : memleak record' "$OUT/perf-header.out"
BID=$(readelf -n "$LEAKY" | awk '/Build ID/ { print $3 }')
perf buildid-list -i "$OUT/perf.data" >"$OUT/perf-buildid.out" 2>/dev/null
check_grep "perf buildid-list: leaky's build-id" "^$BID $(ere "$LEAKY")$" "$OUT/perf-buildid.out"

# ---------------------------------------------------------------- pprof
ml pprof report -i "$DATA" --format pprof -o "$OUT/leaks.pb.gz"
check_exit "pprof: exits 0" 0
check_eq "pprof: gzip" "1f8b" "$(head -c 2 "$OUT/leaks.pb.gz" | od -An -tx1 | tr -d ' \n')"
if zcat "$OUT/leaks.pb.gz" | protoc --decode=perftools.profiles.Profile -I "$PROTO_DIR" \
	"$PROTO_DIR/profile.proto" >"$OUT/pprof.txt" 2>"$OUT/pprof.err"; then
	pass "pprof: protoc decodes it with pprof's profile.proto"
else
	fail "pprof: protoc decodes it with pprof's profile.proto" "$(cat "$OUT/pprof.err")"
fi
# resolve string indices and check the model with python over protoc's text
if python3 - "$OUT/pprof.txt" "$BID" >"$OUT/pprof.check" 2>&1 <<'PY'
import re, sys
txt = open(sys.argv[1]).read()
strings = [eval(s) for s in re.findall(r'^string_table: (".*")$', txt, re.M)]
assert strings[0] == ""
types = re.findall(r'sample_type \{\n  type: (\d+)\n  unit: (\d+)\n\}', txt)
assert [(strings[int(a)], strings[int(b)]) for a, b in types] == \
    [("inuse_objects", "count"), ("inuse_space", "bytes")], types
samples = re.findall(r'^sample \{\n(.*?)^\}', txt, re.M | re.S)
vals = [tuple(int(v) for v in re.findall(r'value: (\d+)', s)) for s in samples]
assert sorted(vals) == sorted([(1, 100000), (5, 5000), (100, 4800), (10, 3200), (4, 512), (10, 240)]), vals
funcs = {m[0]: strings[int(m[1])] for m in re.findall(r'function \{\n  id: (\d+)\n  name: (\d+)', txt)}
locs = {}
for l in re.findall(r'^location \{\n(.*?)^\}', txt, re.M | re.S):
    lid = re.search(r'id: (\d+)', l).group(1)
    locs[lid] = [funcs[f] for f in re.findall(r'function_id: (\d+)', l)]
direct = [s for s in samples if re.search(r'value: 4800', s)][0]
chain = [locs[i][-1] for i in re.findall(r'location_id: (\d+)', direct)]
assert chain[:2] == ["leak_direct", "main"], chain
maps = re.findall(r'^mapping \{\n(.*?)^\}', txt, re.M | re.S)
bids = {strings[int(re.search(r'filename: (\d+)', m).group(1))]: strings[int(re.search(r'build_id: (\d+)', m).group(1))] for m in maps}
leaky = [v for k, v in bids.items() if k.endswith("/build/targets/leaky")]
assert leaky == [sys.argv[2]] or (leaky and leaky[0] == sys.argv[2]), bids
assert "inuse_space" == strings[int(re.search(r'^default_sample_type: (\d+)', txt, re.M).group(1))]
print("ok")
PY
then
	pass "pprof: samples, locations, functions, mappings with build-ids as recorded"
else
	fail "pprof: samples, locations, functions, mappings with build-ids as recorded" "$(cat "$OUT/pprof.check")"
fi

# pprof itself, built from Debian's golang-github-google-pprof-dev sources
if GOPATH=/usr/share/gocode GO111MODULE=off GOFLAGS= GOCACHE=$OUT/gocache \
	go build -o "$OUT/pprof" github.com/google/pprof >"$OUT/go-build.log" 2>&1; then
	"$OUT/pprof" -top -sample_index=inuse_space "$OUT/leaks.pb.gz" >"$OUT/pprof-top.out" 2>&1
	check_grep "pprof -top: leak_realloc 97.66kB 87.91%" '^ +97\.66kB 87\.91% .* leak_realloc$' "$OUT/pprof-top.out"
	check_grep "pprof -top: the file's build-id" "^Build ID: $BID$" "$OUT/pprof-top.out"
	"$OUT/pprof" -top -sample_index=inuse_objects "$OUT/leaks.pb.gz" >"$OUT/pprof-objects.out" 2>&1
	check_grep "pprof -top inuse_objects: leak_direct 100 of 130" '^ +100 76\.92% .* leak_direct$' "$OUT/pprof-objects.out"
	"$OUT/pprof" -traces "$OUT/leaks.pb.gz" >"$OUT/pprof-traces.out" 2>&1
	check_grep "pprof -traces: the comm label" '^ +comm: +leaky$' "$OUT/pprof-traces.out"
else
	fail "build pprof (golang-go, golang-github-google-pprof-dev)" "$(tail -n 5 "$OUT/go-build.log")"
fi

# ---------------------------------------------------------------- binary to a terminal, bad format
ml badfmt report -i "$DATA" --format xml
check_exit "--format xml: usage error" 2
check_grep "--format xml: names the formats" "invalid value for --format" "$ML_ERR"
if script -qec "$MEMLEAK report -i $DATA --format pprof" /dev/null >"$OUT/tty.out" 2>&1; then
	fail "pprof to a terminal: refused"
else
	pass "pprof to a terminal: refused"
fi
check_grep "pprof to a terminal: says to use -o or a pipe" 'is binary: give -o FILE or a pipe' "$OUT/tty.out"

finish
