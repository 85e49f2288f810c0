"""Starting and stopping the local stack (Firestore emulator, phone gateway, worker) for tests,
benchmarks and `scripts/dev.sh`."""
