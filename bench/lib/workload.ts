// What the REST benchmark sends, shared by the load generator and the Parley child that seeds the
// database, so both sides agree on visitor ids and text without passing them around.

/** How many distinct visitors the POST load writes to. */
export const VISITOR_COUNT = 1000

export function visitorId(i: number): string {
  return `bench-visitor-${String(i).padStart(5, '0')}`
}

// About 100 characters, with an `&` and a `'` so the html field takes the escaping path.
const TEXTS = [
  "Hi! Your order #4821 has shipped & should arrive by Friday. Reply here if you've got any questions.",
  "Thanks for waiting. I've checked your account & the refund is on its way: 3-5 working days usually.",
  "Good news: the feature you asked about ships next week. I'll send you the changelog & a short guide.",
  "Sorry for the trouble! Could you send a screenshot of the error & the browser you're using? Thanks.",
]

export function messageText(i: number): string {
  return TEXTS[i % TEXTS.length]
}

/** A small deterministic generator (mulberry32), so two runs send the same requests. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
