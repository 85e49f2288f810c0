// Baseline for the benchmarks: the seed's own stack (Node + Express + Firestore) serving the seed's
// POST /api/send-otp and POST /api/verify-otp (contract: shared/notes/seed-api.md), so the edge's figures
// have something to be compared with. Not production code and not part of the product.
//
// Sending the SMS is a no-op log line: the seed's SMS provider is not part of the comparison (the edge
// side hands messages to a phone gateway, which the comparison leaves out as well).
//
// Env: FIRESTORE_EMULATOR_HOST (host:port of the official emulator), FIRESTORE_PROJECT (default
// otp-bench), PORT (default 3000), HOST (default 127.0.0.1), LOG_SMS=1 to print the no-op SMS lines.
'use strict';

// Never probe the cloud metadata server (169.254.169.254): everything here is local to the machine.
process.env.METADATA_SERVER_DETECTION ??= 'none';

const crypto = require('node:crypto');
const express = require('express');
const { Firestore, FieldValue } = require('@google-cloud/firestore');

const OTP_TTL_SECONDS = 300;
const MAX_VERIFY_ATTEMPTS = 5;
const E164 = /^\+[1-9]\d{6,14}$/;

const db = new Firestore({ projectId: process.env.FIRESTORE_PROJECT || 'otp-bench' });
const apiKeys = db.collection('apiKeys');
const otps = db.collection('otps');

const sha256 = (text) => crypto.createHash('sha256').update(text).digest('hex');
const fail = (res, status, error) => res.status(status).json({ success: false, error });

// The key itself is never stored: its doc id is the key's SHA-256 (see seed-key.js).
async function requireApiKey(req, res, next) {
  const key = req.get('x-api-key');
  if (!key) return fail(res, 401, 'API key is required');
  try {
    const doc = await apiKeys.doc(sha256(key)).get();
    if (!doc.exists || doc.get('active') !== true) return fail(res, 401, 'Invalid API key');
    req.tenantId = doc.get('tenantId');
    return next();
  } catch (err) {
    return next(err);
  }
}

function readPhone(req, res) {
  const phone = req.body && req.body.phone;
  if (!phone) {
    fail(res, 400, 'Phone number is required');
    return null;
  }
  if (typeof phone !== 'string' || !E164.test(phone)) {
    fail(res, 400, 'Invalid phone number format');
    return null;
  }
  return phone;
}

const otpDoc = (tenantId, phone) => otps.doc(`${tenantId}_${sha256(phone)}`);

// OTPs are kept as a SHA-256 of phone and code, never in clear text (a bench stand-in: 10^6 codes are
// cheap to brute-force from a hash; the edge keys its hash with a server secret).
const codeHash = (phone, code) => sha256(`${phone}:${code}`);

function sendSms(phone, text) {
  // No-op by design (see the header comment); the text itself is never logged.
  if (process.env.LOG_SMS === '1') console.log(`sms no-op to=${phone.slice(0, 5)}*** chars=${text.length}`);
}

const app = express();
app.disable('x-powered-by');
app.use(express.json({ limit: '16kb' }));

app.post('/api/send-otp', requireApiKey, async (req, res, next) => {
  const phone = readPhone(req, res);
  if (!phone) return undefined;
  try {
    const otp = crypto.randomInt(0, 1_000_000).toString().padStart(6, '0');
    const now = Date.now();
    await otpDoc(req.tenantId, phone).set({
      phone,
      codeHash: codeHash(phone, otp),
      expiresAt: now + OTP_TTL_SECONDS * 1000,
      attemptCount: 1,
      verifyAttempts: 0,
      createdAt: now,
    });
    sendSms(phone, `Your verification code is ${otp}`);
    return res.json({ success: true, message: 'OTP sent successfully', data: { phone, expiresIn: OTP_TTL_SECONDS } });
  } catch (err) {
    return next(err);
  }
});

app.post('/api/verify-otp', requireApiKey, async (req, res, next) => {
  const phone = readPhone(req, res);
  if (!phone) return undefined;
  const otp = req.body.otp;
  if (!otp) return fail(res, 400, 'OTP is required');
  try {
    const ref = otpDoc(req.tenantId, phone);
    const doc = await ref.get();
    if (!doc.exists || doc.get('expiresAt') < Date.now()) return fail(res, 400, 'Invalid or expired OTP');
    if (doc.get('verifyAttempts') >= MAX_VERIFY_ATTEMPTS) return fail(res, 429, 'Too many failed attempts');
    const given = Buffer.from(codeHash(phone, String(otp)));
    const stored = Buffer.from(doc.get('codeHash'));
    if (given.length !== stored.length || !crypto.timingSafeEqual(given, stored)) {
      await ref.update({ verifyAttempts: FieldValue.increment(1) });
      return fail(res, 400, 'Invalid or expired OTP');
    }
    await ref.delete();
    return res.json({
      success: true,
      message: 'OTP verified successfully',
      data: { phone, verified: true, verifiedAt: new Date().toISOString() },
    });
  } catch (err) {
    return next(err);
  }
});

app.use((req, res) => fail(res, 404, 'Not found'));
// eslint-disable-next-line no-unused-vars
app.use((err, req, res, next) => {
  if (err.type === 'entity.parse.failed') return fail(res, 400, 'Invalid JSON body');
  console.error(`error ${req.method} ${req.path}: ${err.message}`);
  return fail(res, 500, 'Internal server error');
});

const port = Number(process.env.PORT || 3000);
const host = process.env.HOST || '127.0.0.1';
app.listen(port, host, () => console.log(`baseline listening on http://${host}:${port}`));
