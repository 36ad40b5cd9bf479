#!/usr/bin/env bash
# 35-jwt: auth.mode = jwt end to end. The keys (RSA 2048, Ed25519) are made with the
# openssl command and published in a JWKS file, as an identity provider would; every
# token is signed here with `openssl dgst -sign` (RS256) or `openssl pkeyutl -sign
# -rawin` (EdDSA). An extra instance in jwt mode (issuer and audience set) is asked over
# FastCGI with HTTP_AUTHORIZATION: RS256 and EdDSA tokens are accepted; a wrong aud or
# iss, an alg changed in the header (HS256 signed with the RSA public key, EdDSA over an
# RS256 signature, none), one changed character, an expired token and garbage are 401
# with `Bearer realm="taskapi", error="invalid_token"`, no token is 401 with the bare
# challenge; a tasks:read token is 403 insufficient_scope on POST. After the JWKS file
# is replaced and SIGHUP starts new workers, the new key is accepted and the removed
# one refused; a SIGHUP with a broken JWKS is refused and the running keys kept. A JWKS
# file that cannot be used stops the start with its name and why.
# No token reaches the log.
# shellcheck source=tests/e2e/lib.sh
. "$(dirname "$0")/lib.sh"
# shellcheck source=tests/e2e/deploy-lib.sh
. "$E2E_DIR/deploy-lib.sh"

ISS=https://idp.e2e.example
AUD=taskapi-e2e
kd=$E2E_TMP/keys
mkdir -p "$kd"

# base64url, JWKs and payloads: python3's standard library, no crypto in it.
cat >"$kd/jwt.py" <<'PY'
import base64, hashlib, hmac, json, re, sys, time

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

cmd = sys.argv[1]
if cmd == "b64":  # bytes on stdin -> base64url
    print(b64(sys.stdin.buffer.read()))
elif cmd == "input":  # HEADER PAYLOAD -> the signing input
    print(b64(sys.argv[2].encode()) + "." + b64(sys.argv[3].encode()), end="")
elif cmd == "payload":  # EXP_OFFSET EXTRA_JSON -> claims with iss, aud, exp = now + offset
    claims = {"iss": sys.argv[4], "aud": sys.argv[5], "exp": int(time.time()) + int(sys.argv[2])}
    claims.update(json.loads(sys.argv[3]))
    print(json.dumps(claims, separators=(",", ":")))
elif cmd == "jwk-rsa":  # KID; `openssl pkey -text_pub -noout` on stdin
    text = sys.stdin.read()
    mod = re.search(r"Modulus:\s*((?:[0-9a-f]{2}:?\s*)+)", text).group(1)
    n = bytes.fromhex(re.sub(r"[^0-9a-f]", "", mod)).lstrip(b"\0")
    e = int(re.search(r"Exponent: (\d+)", text).group(1))
    print(json.dumps({"kty": "RSA", "kid": sys.argv[2], "alg": "RS256", "use": "sig", "n": b64(n),
                      "e": b64(e.to_bytes((e.bit_length() + 7) // 8, "big"))}))
elif cmd == "jwk-ed":  # KID; the DER SubjectPublicKeyInfo on stdin (the key is its last 32 bytes)
    der = sys.stdin.buffer.read()
    print(json.dumps({"kty": "OKP", "crv": "Ed25519", "kid": sys.argv[2], "x": b64(der[-32:])}))
elif cmd == "jwks":  # JWK... -> the document
    print(json.dumps({"keys": [json.loads(k) for k in sys.argv[2:]]}))
elif cmd == "tamper":  # TOKEN OLD NEW -> the token with OLD replaced by NEW in its payload
    h, p, sig = sys.argv[2].split(".")
    claims = base64.urlsafe_b64decode(p + "=" * (-len(p) % 4)).decode()
    print(h + "." + b64(claims.replace(sys.argv[3], sys.argv[4]).encode()) + "." + sig)
elif cmd == "hmac":  # KEYFILE; the signing input on stdin -> the HS256 signature, base64url
    key = open(sys.argv[2], "rb").read()
    print(b64(hmac.new(key, sys.stdin.buffer.read(), hashlib.sha256).digest()))
PY
py() { python3 "$kd/jwt.py" "$@"; }

openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$kd/rsa1.pem" 2>/dev/null
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$kd/rsa2.pem" 2>/dev/null
openssl genpkey -algorithm ED25519 -out "$kd/ed1.pem" 2>/dev/null
openssl pkey -in "$kd/rsa1.pem" -pubout -out "$kd/rsa1.pub.pem"
jwk_rsa1=$(openssl pkey -in "$kd/rsa1.pem" -text_pub -noout | py jwk-rsa rsa1)
jwk_rsa2=$(openssl pkey -in "$kd/rsa2.pem" -text_pub -noout | py jwk-rsa rsa2)
jwk_ed1=$(openssl pkey -in "$kd/ed1.pem" -pubout -outform DER | py jwk-ed ed1)
jwks=$kd/jwks.json
py jwks "$jwk_rsa1" "$jwk_ed1" >"$jwks"

# sign HOW KEY HEADER PAYLOAD — print a JWT: HOW is RS256 or EdDSA (openssl with the
# private key KEY), HMAC (HS256 with the bytes of the file KEY as the secret) or none.
sign() {
  local how=$1 key=$2 input sig
  input=$(py input "$3" "$4")
  printf '%s' "$input" >"$kd/input"
  case $how in
    RS256) openssl dgst -sha256 -sign "$key" -out "$kd/sig" "$kd/input" && sig=$(py b64 <"$kd/sig") ;;
    EdDSA) openssl pkeyutl -sign -inkey "$key" -rawin -in "$kd/input" -out "$kd/sig" && sig=$(py b64 <"$kd/sig") ;;
    HMAC) sig=$(py hmac "$key" <"$kd/input") ;;
    none) sig= ;;
  esac
  printf '%s.%s\n' "$input" "$sig"
}

# payload EXP_OFFSET [EXTRA_JSON] — claims: iss and aud as configured, exp now + EXP_OFFSET s.
payload() {
  local extra='{}'
  [ $# -lt 2 ] || extra=$2
  py payload "$1" "$extra" "$ISS" "$AUD"
}

RS1='{"alg":"RS256","kid":"rsa1","typ":"JWT"}'
ED1='{"alg":"EdDSA","kid":"ed1"}'
RW='"scope":"tasks:read tasks:write"'
# The one owner that writes a task: its tasks go when the test ends (later tests count the
# stack owner's tasks, and every task in the table).
writer=alice-jwt$$
at_exit "sql \"DELETE FROM tasks WHERE owner = '$writer'\""
tok_rs=$(sign RS256 "$kd/rsa1.pem" "$RS1" "$(payload 600 "{\"sub\":\"$writer\",$RW,\"jti\":\"e2e-rs-1\"}")")
tok_ed=$(sign EdDSA "$kd/ed1.pem" "$ED1" "$(payload 600 "{\"sub\":\"bob\",$RW,\"jti\":\"e2e-ed-1\"}")")
tok_read=$(sign EdDSA "$kd/ed1.pem" "$ED1" "$(payload 600 '{"sub":"carol","scp":["tasks:read"]}')")
tok_rs2=$(sign RS256 "$kd/rsa2.pem" '{"alg":"RS256","kid":"rsa2"}' "$(payload 600 "{\"sub\":\"dave\",$RW}")")

ini=$(instance_config jwt)
root_args
sock=$E2E_TMP/jwt.sock
ta_start jwt "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$sock" --set server.workers=2 \
  --set auth.mode=jwt --set auth.jwt_jwks_file="$jwks" --set auth.jwt_issuer="$ISS" \
  --set auth.jwt_audience="$AUD"
pid=$TA_PID
if ! wait_for 30 fcgi_ok "$sock"; then
  not_ok "a jwt-mode instance serves /healthz within 30 s (status $STATUS)"
  diag "$(tail -n 8 "$E2E_TMP/jwt.log")"
fi

# as TOKEN METHOD URI [BODY_FILE] — one request with "Authorization: Bearer TOKEN" ("" = none).
as() {
  local tok=$1 method=$2 uri=$3 body=${4:-/dev/null}
  if [ -n "$tok" ]; then
    fcgi "$method" "$uri" "$sock" "$body" HTTP_AUTHORIZATION="Bearer $tok"
  else
    fcgi "$method" "$uri" "$sock" "$body"
  fi
}
www_auth() { header WWW-Authenticate; }

# refused DESC TOKEN — GET /tasks/ with TOKEN: 401, the invalid_token challenge, a detail.
refused() {
  as "$2" GET '/tasks/?limit=1'
  expect_json "$1: 401 with a detail" 401 '"detail" in j'
  check "$1: WWW-Authenticate: Bearer realm=\"taskapi\", error=\"invalid_token\" (got '$(www_auth)')" \
    test "$(www_auth)" = 'Bearer realm="taskapi", error="invalid_token"'
}

# ---- accepted ----
as "$tok_rs" GET '/tasks/?limit=1'
expect_json 'RS256 token (kid rsa1): GET /tasks/ 200' 200 'isinstance(j, list)'
as "$tok_ed" GET '/tasks/?limit=1'
expect_json 'EdDSA token (kid ed1): GET /tasks/ 200' 200 'isinstance(j, list)'
tok_ed_nokid=$(sign EdDSA "$kd/ed1.pem" '{"alg":"EdDSA"}' "$(payload 600 '{"sub":"bob","scope":"tasks:read"}')")
as "$tok_ed_nokid" GET '/tasks/?limit=1'
expect_json 'EdDSA token without kid (the keys of its alg are tried): 200' 200 'isinstance(j, list)'
task_json 'made with a JWT'
as "$tok_rs" POST /tasks/ "$E2E_TMP/task.json"
expect_json 'RS256 token with tasks:write: POST /tasks/ 201' 201 'j["title"] == "made with a JWT"'
check "the task belongs to the token's sub ($writer)" \
  test "$(sql "SELECT COUNT(*) FROM tasks WHERE owner = '$writer' AND title = 'made with a JWT'")" = 1

# ---- no token, garbage ----
as '' GET '/tasks/?limit=1'
expect_json 'no token: 401' 401 '"detail" in j'
check "no token: WWW-Authenticate: Bearer realm=\"taskapi\" without an error (got '$(www_auth)')" \
  test "$(www_auth)" = 'Bearer realm="taskapi"'
refused 'garbage token' 'not-a-jwt'
refused 'three dots of nothing' '..'

# ---- claims ----
refused 'wrong aud' "$(sign RS256 "$kd/rsa1.pem" "$RS1" "$(payload 600 '{"sub":"alice","aud":"someone-else"}')")"
refused 'aud array without taskapi-e2e' \
  "$(sign RS256 "$kd/rsa1.pem" "$RS1" "$(payload 600 '{"sub":"alice","aud":["a","b"]}')")"
as "$(sign RS256 "$kd/rsa1.pem" "$RS1" "$(payload 600 "{\"sub\":\"alice\",$RW,\"aud\":[\"a\",\"$AUD\"]}")")" \
  GET '/tasks/?limit=1'
expect_json 'aud array holding taskapi-e2e: 200' 200 'isinstance(j, list)'
refused 'wrong iss' "$(sign RS256 "$kd/rsa1.pem" "$RS1" "$(payload 600 '{"sub":"alice","iss":"https://evil.example"}')")"
refused 'expired (exp an hour ago)' "$(sign EdDSA "$kd/ed1.pem" "$ED1" "$(payload -3600 '{"sub":"bob"}')")"
as "$(sign EdDSA "$kd/ed1.pem" "$ED1" "$(payload -3600 '{"sub":"bob"}')")" GET '/tasks/?limit=1'
check "expired: the detail says so ($(head -c 120 "$BODY"))" json_true '"expired" in j["detail"]'
refused 'nbf an hour ahead' "$(sign EdDSA "$kd/ed1.pem" "$ED1" \
  "$(payload 7200 "{\"sub\":\"bob\",\"nbf\":$(($(date +%s) + 3600))}")")"
refused 'no owner claim (sub)' "$(sign EdDSA "$kd/ed1.pem" "$ED1" "$(payload 600 '{"scope":"tasks:read"}')")"

# ---- the algorithm is the key's, not the token's ----
body=$(payload 600 "{\"sub\":\"alice\",$RW}")
refused 'alg HS256 signed with the RSA public key (kid rsa1)' \
  "$(sign HMAC "$kd/rsa1.pub.pem" '{"alg":"HS256","kid":"rsa1"}' "$body")"
refused 'alg HS256 signed with the RSA public key (no kid)' \
  "$(sign HMAC "$kd/rsa1.pub.pem" '{"alg":"HS256"}' "$body")"
# An RS256 signature under a header that names EdDSA (the signature is real, the alg is not the key's).
rs_sig=${tok_rs##*.}
ed_input=$(py input '{"alg":"EdDSA","kid":"rsa1"}' "$body")
refused 'alg changed in the header (EdDSA over an RS256 signature)' "$ed_input.$rs_sig"
refused 'alg none, no signature' "$(sign none - '{"alg":"none"}' "$body")"
refused 'alg none with an RS256 signature' "$(py input '{"alg":"none","kid":"rsa1"}' "$body").$rs_sig"
refused 'unknown kid' "$(sign RS256 "$kd/rsa1.pem" '{"alg":"RS256","kid":"rsa9"}' "$body")"
refused 'signed by a key not in the JWKS (rsa2)' "$tok_rs2"
# One character of the signature changed (in the middle: every bit there is signature).
mid=$(( ${#tok_rs} - 100 ))
c=${tok_rs:$mid:1}
if [ "$c" = A ]; then r=B; else r=A; fi
refused 'one character of the signature changed' "${tok_rs:0:$mid}$r${tok_rs:$((mid + 1))}"
# One character of the payload changed (sub alice-jwt... -> alicf-jwt...: still base64url and JSON).
refused 'the payload changed (sub alice -> alicf), signature kept' "$(py tamper "$tok_rs" '"alice-' '"alicf-')"

# ---- scopes ----
as "$tok_read" GET '/tasks/?limit=1'
expect_json 'tasks:read token (scp): GET 200' 200 'isinstance(j, list)'
as "$tok_read" POST /tasks/ "$E2E_TMP/task.json"
expect_json 'tasks:read token: POST 403' 403 '"detail" in j'
check "tasks:read token: POST's WWW-Authenticate says insufficient_scope (got '$(www_auth)')" \
  test "$(www_auth)" = 'Bearer realm="taskapi", error="insufficient_scope", scope="tasks:write"'
tok_none=$(sign EdDSA "$kd/ed1.pem" "$ED1" "$(payload 600 '{"sub":"erin","scope":"openid profile"}')")
as "$tok_none" GET '/tasks/?limit=1'
expect_json 'a token without a tasks scope: GET 403' 403 '"detail" in j'

# ---- SIGHUP: new workers read the replaced JWKS (rsa1 removed, rsa2 added) ----
py jwks "$jwk_rsa2" "$jwk_ed1" >"$jwks.new"
mv "$jwks.new" "$jwks"
kill -HUP "$pid"
rs2_ok() { as "$tok_rs2" GET '/tasks/?limit=1'; [ "$STATUS" = 200 ]; }
rs1_refused() { as "$tok_rs" GET '/tasks/?limit=1'; [ "$STATUS" = 401 ]; }
check 'after SIGHUP: a token of the added key rsa2 is accepted (within 30 s)' wait_for 30 rs2_ok
check 'after SIGHUP: a token of the removed key rsa1 is refused (within 30 s: the old workers drain)' \
  wait_for 30 rs1_refused
n_new=0 n_old=0
for _ in 1 2 3 4 5 6; do
  as "$tok_rs2" GET '/tasks/?limit=1'
  [ "$STATUS" != 200 ] || n_new=$((n_new + 1))
  as "$tok_rs" GET '/tasks/?limit=1'
  [ "$STATUS" != 401 ] || n_old=$((n_old + 1))
done
check "after SIGHUP, 6 requests each: rsa2 accepted $n_new times, rsa1 refused $n_old times" \
  test "$n_new" = 6 -a "$n_old" = 6
as "$tok_ed" GET '/tasks/?limit=1'
expect_json 'after SIGHUP: the kept key ed1 still accepted' 200 'isinstance(j, list)'
check 'the reload started a second generation' grep -q 'starting generation 2' "$E2E_TMP/jwt.log"

# ---- SIGHUP with a JWKS that does not load: the reload is refused, the keys in use kept ----
cp "$jwks" "$kd/jwks.good"
printf '{"keys": [' >"$jwks"
kill -HUP "$pid"
check 'SIGHUP with a broken JWKS: the reload is refused, naming the file' \
  wait_for 15 grep -q "reload failed, keeping the running configuration: auth.jwt_jwks_file '$jwks': not JSON" \
  "$E2E_TMP/jwt.log"
n_new=0
for _ in 1 2 3 4 5 6; do
  as "$tok_rs2" GET '/tasks/?limit=1'
  [ "$STATUS" != 200 ] || n_new=$((n_new + 1))
done
check "after the refused reload the running workers still accept rsa2 ($n_new of 6)" test "$n_new" = 6
check 'no third generation was started' bash -c "! grep -q 'starting generation 3' '$E2E_TMP/jwt.log'"
mv "$kd/jwks.good" "$jwks"

# ---- --check-config reads the key files as a worker would: check a new one before SIGHUP ----
printf '{"keys": [' >"$kd/next.json"
rc=0
"$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$E2E_TMP/check.sock" --set auth.mode=jwt \
  --set auth.jwt_jwks_file="$kd/next.json" --check-config >"$E2E_TMP/check.out" 2>&1 || rc=$?
check "--check-config with a broken JWKS warns, naming the file and why (exit $rc)" \
  grep -q "warning: auth.jwt_jwks_file '$kd/next.json': not JSON" "$E2E_TMP/check.out"
"$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$E2E_TMP/check.sock" --set auth.mode=jwt \
  --set auth.jwt_jwks_file="$jwks" --check-config >"$E2E_TMP/check.out" 2>&1 || true
check '--check-config with the JWKS in use: configuration ok' grep -qx 'taskapi: configuration ok' "$E2E_TMP/check.out"

# ---- the log: refusals by reason come out, no token does ----
leaked=0
for t in "$tok_rs" "$tok_ed" "$tok_read" "$tok_rs2"; do
  ! grep -qF "${t##*.}" "$E2E_TMP/jwt.log" || leaked=$((leaked + 1))
  ! grep -qF "${t%.*}" "$E2E_TMP/jwt.log" || leaked=$((leaked + 1))
done
check "no token (signature or header.payload) appears in the instance's log ($leaked found)" test "$leaked" = 0
check 'the access log names the jti of the token that proved the request' grep -q 'e2e-rs-1' "$E2E_TMP/jwt.log"
ta_stop "$pid"
check "SIGTERM: exit 0 (got $TA_EXIT)" test "$TA_EXIT" = 0

# ---- a JWKS that cannot be used stops the start, naming the file and why ----
bad_start() {
  local name=$1 file=$2 pattern=$3
  ta_start "$name" "$TASKAPI_BIN" -c "$ini" "${ROOT_ARGS[@]}" --set server.listen="$E2E_TMP/$name.sock" \
    --set auth.mode=jwt --set auth.jwt_jwks_file="$file"
  if ta_died_with "$name" "$TA_PID" "$pattern"; then
    ok "$name: the start fails with '$(grep -oE "$pattern" "$E2E_TMP/$name.log" | head -n 1)'"
  else
    not_ok "$name: the start fails, the log matching: $pattern"
    diag "$(tail -n 5 "$E2E_TMP/$name.log")"
  fi
}
printf '{"keys": [' >"$kd/broken.json"
bad_start broken-jwks "$kd/broken.json" "auth.jwt_jwks_file '[^']*broken.json': not JSON"
printf '{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}' >"$kd/nokey.json"
bad_start no-usable-key "$kd/nokey.json" "auth.jwt_jwks_file '[^']*nokey.json': no usable key"
bad_start missing-jwks "$kd/nowhere.json" "auth.jwt_jwks_file '[^']*nowhere.json': cannot open it"
python3 - "$jwk_rsa1" >"$kd/private.json" <<'PY'
import json, sys
k = json.loads(sys.argv[1]); k["d"] = "AQAB"
print(json.dumps({"keys": [k]}))
PY
bad_start private-jwks "$kd/private.json" "private key material"

sanitizer_check
