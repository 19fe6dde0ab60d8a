// Test fixture: ONE real Better Auth instance (jwt + bearer plugins, the
// built-in in-memory adapter) served over HTTP on 127.0.0.1, for the Python
// tests. It mints real JWTs through Better Auth's own endpoints and publishes
// its JWKS at GET /api/auth/jwks. See README.md for the env vars and recipes.
//
// stdout carries exactly one line, `READY <port>`; every log goes to stderr.

import { readFile } from "node:fs/promises";
import http from "node:http";
// "better-auth/minimal" is the official initializer without Kysely (enough
// for an adapter-function database such as memoryAdapter); ~100 ms faster to
// import than "better-auth".
import { betterAuth } from "better-auth/minimal";
import { memoryAdapter } from "better-auth/adapters/memory";
import { toNodeHandler } from "better-auth/node";
import { bearer } from "better-auth/plugins/bearer";
import { jwt, toExpJWT } from "better-auth/plugins/jwt";

// Keep stdout for the READY line only: anything that logs with console.log /
// console.info (Better Auth's default logger does for non-warn levels) goes to
// stderr instead.
console.log = (...args) => console.error(...args);
console.info = (...args) => console.error(...args);

function fail(message) {
  process.stderr.write(`better-auth fixture: ${message}\n`);
  process.exit(2);
}

const env = process.env;

if (env.PORT === undefined || env.PORT === "" || !/^\d+$/.test(env.PORT)) {
  fail("PORT is required (a number; 0 picks a free port)");
}
const requestedPort = Number(env.PORT);

const SECRET = env.SECRET ?? "";
if (SECRET.length < 32) fail("SECRET is required and must be at least 32 characters");

// JWT_ALG -> jwt plugin jwks.keyPairConfig
const KEY_PAIR_CONFIGS = {
  EdDSA: { alg: "EdDSA", crv: "Ed25519" },
  ES256: { alg: "ES256" },
  ES512: { alg: "ES512" },
  RS256: { alg: "RS256", modulusLength: 2048 },
  PS256: { alg: "PS256", modulusLength: 2048 },
};
const JWT_ALG = env.JWT_ALG || "EdDSA";
const keyPairConfig = KEY_PAIR_CONFIGS[JWT_ALG];
if (!keyPairConfig) fail(`JWT_ALG must be one of ${Object.keys(KEY_PAIR_CONFIGS).join(", ")}; got ${JWT_ALG}`);

// JWT_EXPIRATION -> jwt plugin jwt.expirationTime.
// better-auth 1.7.25 (dist/plugins/jwt/utils.mjs, toExpJWT) does:
//   number -> used AS the `exp` claim (absolute epoch seconds)
//   string -> exp = iat + sec(string), where sec() accepts "15m", "2 hours",
//             and NEGATIVE spans: "-1h", "-30s", "1 hour ago".
// So an ALREADY-EXPIRED token is minted with JWT_EXPIRATION="-1h" (exp = iat -
// 3600) or with an all-digits value such as JWT_EXPIRATION=1 (exp = 1, i.e.
// 1970). An all-digits value is passed as a number (absolute epoch seconds);
// anything else is passed as the string. Unset -> the plugin default "15m".
// Convenience alias: JWT_EXPIRATION=expired means "-1h".
let expirationTime;
if (env.JWT_EXPIRATION !== undefined && env.JWT_EXPIRATION !== "") {
  const raw = env.JWT_EXPIRATION === "expired" ? "-1h" : env.JWT_EXPIRATION;
  expirationTime = /^\d+$/.test(raw) ? Number(raw) : raw;
  // Fail at startup, not at the first mint, on a value Better Auth can't parse.
  try {
    toExpJWT(expirationTime, 0);
  } catch (err) {
    fail(`JWT_EXPIRATION is not a duration Better Auth understands: ${env.JWT_EXPIRATION} (${err.message})`);
  }
}

// ROTATION_INTERVAL (seconds) -> jwks.rotationInterval. Each key row gets
// expiresAt = createdAt + interval. Rotation is lazy: the next JWT signing
// that finds no unexpired key creates a new key (GET /jwks never rotates).
// GRACE_PERIOD (seconds, optional) -> jwks.gracePeriod: an expired key stays
// in GET /jwks until expiresAt + gracePeriod (Better Auth default: 30 days).
function optionalSeconds(name) {
  const raw = env[name];
  if (raw === undefined || raw === "") return undefined;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0) fail(`${name} must be a non-negative number of seconds; got ${raw}`);
  return n;
}
const rotationInterval = optionalSeconds("ROTATION_INTERVAL");
const gracePeriod = optionalSeconds("GRACE_PERIOD");

// BASE_URL must be an origin (scheme://host[:port]). Better Auth would take a
// path in baseURL as its mount point instead of /api/auth, so reject that.
function resolveBaseURL(port) {
  if (!env.BASE_URL) return `http://127.0.0.1:${port}`;
  let url;
  try {
    url = new URL(env.BASE_URL);
  } catch {
    fail(`BASE_URL is not a valid URL: ${env.BASE_URL}`);
  }
  if (url.pathname !== "/" || url.search || url.hash) {
    fail(`BASE_URL must be an origin without a path (e.g. http://127.0.0.1:${port}); got ${env.BASE_URL}`);
  }
  return url.origin;
}

function buildAuth(baseURL) {
  // Tables the core (user, session, account, verification) and the jwt plugin
  // (jwks) need. The memory adapter throws "Model X not found" otherwise.
  const db = { user: [], session: [], account: [], verification: [], jwks: [] };
  return betterAuth({
    baseURL,
    secret: SECRET,
    database: memoryAdapter(db),
    emailAndPassword: { enabled: true, requireEmailVerification: false },
    // Tests mint many tokens quickly; never rate limit (it is on by default
    // only when NODE_ENV=production, but make it explicit).
    rateLimit: { enabled: false },
    telemetry: { enabled: false },
    logger: {
      level: "warn",
      disableColors: true,
      log: (level, message, ...args) => console.error(`[better-auth ${level}] ${message}`, ...args),
    },
    plugins: [
      jwt({
        jwks: {
          keyPairConfig,
          ...(rotationInterval !== undefined ? { rotationInterval } : {}),
          ...(gracePeriod !== undefined ? { gracePeriod } : {}),
        },
        ...(expirationTime !== undefined ? { jwt: { expirationTime } } : {}),
      }),
      bearer(),
    ],
  });
}

function sendJson(res, status, body) {
  const data = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(data) });
  res.end(data);
}

async function readJson(req) {
  const chunks = [];
  for await (const chunk of req) chunks.push(chunk);
  const text = Buffer.concat(chunks).toString("utf8");
  return text ? JSON.parse(text) : {};
}

// POST /test/mint {email, password, name?}: sign up (or sign in when the user
// already exists) through Better Auth's real HTTP endpoints, then fetch a JWT
// exactly as a frontend would: GET /api/auth/token with
// `Authorization: Bearer <session token from set-auth-token>`.
async function mint(auth, baseURL, body) {
  const { email, password } = body ?? {};
  if (typeof email !== "string" || typeof password !== "string") {
    return [400, { error: "email and password (strings) are required" }];
  }
  const name = typeof body.name === "string" ? body.name : email.split("@")[0];
  const api = (path, init) => auth.handler(new Request(`${baseURL}/api/auth${path}`, init));
  const postJson = (path, payload) =>
    api(path, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) });

  let res = await postJson("/sign-up/email", { email, password, name });
  if (!res.ok) {
    const signUpError = await res.json().catch(() => ({}));
    // 422 USER_ALREADY_EXISTS(_USE_ANOTHER_EMAIL): fall back to sign-in.
    if (res.status !== 422) return [res.status, { error: "sign-up failed", detail: signUpError }];
    res = await postJson("/sign-in/email", { email, password });
    if (!res.ok) {
      return [res.status, { error: "sign-in failed", detail: await res.json().catch(() => ({})) }];
    }
  }
  const sessionToken = res.headers.get("set-auth-token");
  const signed = await res.json();
  if (!sessionToken) return [500, { error: "no set-auth-token header (bearer plugin)" }];

  const tokenRes = await api("/token", { method: "GET", headers: { authorization: `Bearer ${sessionToken}` } });
  const tokenBody = await tokenRes.json().catch(() => ({}));
  if (!tokenRes.ok || typeof tokenBody.token !== "string") {
    return [tokenRes.status === 200 ? 500 : tokenRes.status, { error: "GET /api/auth/token failed", detail: tokenBody }];
  }
  return [200, { token: tokenBody.token, userId: signed.user.id, sessionToken }];
}

let lastReport = null;
let handle = (_req, res) => sendJson(res, 503, { error: "starting" });
const server = http.createServer((req, res) => handle(req, res));

server.on("error", (err) => fail(`listen failed: ${err.message}`));
server.listen(requestedPort, "127.0.0.1", () => {
  const port = server.address().port;
  const baseURL = resolveBaseURL(port);
  const auth = buildAuth(baseURL);
  const authHandler = toNodeHandler(auth);

  handle = (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/test/mint") {
      if (req.method !== "POST") return sendJson(res, 405, { error: "POST only" });
      readJson(req)
        .then((body) => mint(auth, baseURL, body))
        .then(([status, body]) => sendJson(res, status, body))
        .catch((err) => {
          console.error(err);
          if (!res.headersSent) sendJson(res, 500, { error: String(err?.message ?? err) });
        });
      return;
    }
    // POST /test/report: a page that cannot end by itself (events.html keeps a stream open, which
    // Chromium's --dump-dom does not wait for) leaves its report here; GET /test/report reads it.
    if (path === "/test/report") {
      if (req.method === "GET") return sendJson(res, 200, { report: lastReport });
      readJson(req).then((body) => {
        lastReport = body;
        sendJson(res, 200, { stored: true });
      });
      return;
    }
    // GET /test/page.html and /test/events.html: the pages the browser tests (tests/system/
    // test_browser*.py) load, so that they run on this origin, the frontend's, next to Better
    // Auth's cookies.
    const page = { "/test/page.html": "./page.html", "/test/events.html": "./events.html" }[path];
    if (page && req.method === "GET") {
      readFile(new URL(page, import.meta.url))
        .then((html) => {
          res.writeHead(200, { "content-type": "text/html; charset=utf-8", "cache-control": "no-store" });
          res.end(html);
        })
        .catch((err) => sendJson(res, 500, { error: String(err?.message ?? err) }));
      return;
    }
    if (path.startsWith("/api/auth")) return authHandler(req, res);
    return sendJson(res, 404, { error: "not found" });
  };

  process.stdout.write(`READY ${port}\n`);
});

for (const sig of ["SIGTERM", "SIGINT"]) {
  process.on(sig, () => {
    server.close();
    process.exit(0);
  });
}
