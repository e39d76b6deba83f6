#!/bin/sh
# The crash campaign's program (bench/crash_campaign.py): everything it does follows from its arguments, so the
# campaign knows each run's outcome and output from the argv apsisd stored for it.
#
#   crash_program.sh MARKS RUN_ID LINES PAUSE END TAG
#
# Appends systemd's $INVOCATION_ID to MARKS/RUN_ID (one line per start: two lines are a run started twice),
# prints LINES numbered lines "RUN_ID N" with PAUSE seconds after each, then ends as END says: an exit code
# (0, 3, 77...) or sigNAME, death by that signal (sigKILL, sigUSR1). TAG only names where the run came from.
marks=$1 run=$2 lines=$3 pause=$4 end=$5
echo "$INVOCATION_ID" >> "$marks/$run"
i=1
while [ "$i" -le "$lines" ]; do
    echo "$run $i"
    [ "$pause" = 0 ] || sleep "$pause"
    i=$((i + 1))
done
case $end in
    sig*) kill -s "${end#sig}" $$ ;;
esac
exit "$end"
