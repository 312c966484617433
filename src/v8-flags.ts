// V8 settings for every Parley process, applied by importing this module before any other, so
// that they hold from the first allocation on (bin/parley.js; the bench servers do the same).
import { setFlagsFromString } from 'node:v8'

// @NOTE Allocation-site pretenuring off. V8 watches each allocation site (an object literal, a
// `new`) and, once most of its objects survive a young-generation collection, allocates its later
// objects straight into the old generation. Under the GET benchmark 7 of 17 Parley processes ran in
// a degraded state for good: each scavenge took 4-14 ms instead of under 1 and promoted 40% of what
// it copied (garbage that only the next mark-compact freed), and a GET cost 70-135 µs of CPU
// instead of 45-55. Likely cause: sites that earned pretenuring while many requests' objects were
// in flight (start-up, seeding) keep it, and their short-lived objects, born old, keep the young
// objects they point to alive through every scavenge. With pretenuring off, none of 24 processes
// fell into that state, and POST and realtime moved only within the noise (README, Benchmarks,
// "Night of 2026-12-05").
setFlagsFromString('--no-allocation-site-pretenuring')
