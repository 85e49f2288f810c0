// Seeds one API key for the baseline server: usage `node seed-key.js KEY [TENANT_ID]`.
// Stores only the key's SHA-256 (as the document id), like server.js expects.
'use strict';

// Never probe the cloud metadata server (169.254.169.254): everything here is local to the machine.
process.env.METADATA_SERVER_DETECTION ??= 'none';

const crypto = require('node:crypto');
const { Firestore } = require('@google-cloud/firestore');

async function main() {
  const [key, tenantId = 't_bench'] = process.argv.slice(2);
  if (!key) {
    console.error('usage: node seed-key.js KEY [TENANT_ID]');
    process.exit(2);
  }
  if (!process.env.FIRESTORE_EMULATOR_HOST) {
    console.error('FIRESTORE_EMULATOR_HOST is not set: refusing to write to a real project');
    process.exit(2);
  }
  const db = new Firestore({ projectId: process.env.FIRESTORE_PROJECT || 'otp-bench' });
  const id = crypto.createHash('sha256').update(key).digest('hex');
  await db.collection('apiKeys').doc(id).set({ tenantId, active: true, createdAt: Date.now() });
  console.log(`seeded an api key for tenant ${tenantId}`);
  await db.terminate();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
