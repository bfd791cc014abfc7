# A stand-in peer for the --peers tests, run as `sh fake_peer.sh [--framework F]` under the name of
# a peer script: it speaks bench/peers/peer_protocol.py's line protocol with fixed figures, so tide's
# side of the protocol is tested without Python. As framework "torch" it fails to start (a missing
# package); it refuses every tiny_solve_grad case, exits when asked to prepare a spiral case (a
# peer that dies), answers garbage when asked to time the last workload prepared for K = 3 of the
# Taylor forward case (a reply that is not JSON, while timing), and otherwise claims 2 ms and 10
# evaluations per call, check 1.5 (which disagrees with tide's; FAKE_PEER_CHECK in its environment
# sets another). It writes a line to stderr when it starts and another before it exits on a spiral
# case (only the second belongs in tide's message). With FAKE_PEER_SIGNAL=KILL in its environment it
# kills itself by that signal when asked to prepare anything.
if [ "$2" = "torch" ]; then
  echo '{"ok": false, "error": "ModuleNotFoundError: No module named '"'"'torch'"'"'"}'
  exit 1
fi
echo 'fake peer: started' >&2
check=${FAKE_PEER_CHECK:-1.5}
echo '{"ok": true, "framework": "fake", "versions": {"fake": "1.0"}}'
handle=0
bad=none
while IFS= read -r line; do
  case "$line" in *'"prepare"'*) [ -n "$FAKE_PEER_SIGNAL" ] && kill -s "$FAKE_PEER_SIGNAL" $$ ;; esac
  case "$line" in
    *'"quit"'*) exit 0 ;;
    *'"run"'*'"handle":'"$bad"'}'*) echo 'this is not JSON' ;;
    *'"K":3,"case":"taylor_forward","cmd":"prepare"'*) bad=$handle; echo '{"ok": true, "handle": '"$handle"', "first_seconds": 0.25, "check": '"$check"', "nfe": 10}'; handle=$((handle + 1)) ;;
    *'"prepare"'*tiny_solve_grad* | *tiny_solve_grad*'"prepare"'*) echo '{"ok": false, "error": "ValueError: no gradients here"}' ;;
    *'"prepare"'*spiral* | *spiral*'"prepare"'*) echo 'fake peer: asked for a spiral, exiting' >&2; exit 3 ;;
    *'"prepare"'*) echo '{"ok": true, "handle": '"$handle"', "first_seconds": 0.25, "check": '"$check"', "nfe": 10}'; handle=$((handle + 1)) ;;
    *'"run"'*) echo '{"ok": true, "seconds": 0.002, "nfe": 10}' ;;
    *) echo '{"ok": false, "error": "unknown request"}' ;;
  esac
done
