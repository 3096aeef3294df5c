import t from 'tap'
import { runSoak, smallestBundledModel } from './helpers/soak.js'

// A short CI version of scripts/soak.ts with the smallest bundled model: consecutive generations keep
// resident memory roughly flat and give identical results, load/dispose cycles give memory back, and
// generations aborted mid-run end with ABORTED and leave no handles behind. Bounds are generous (CI
// machines vary; the 1000-generation figures are in RELIABILITY.md); no timing assertions.

const model = await smallestBundledModel()

t.test('soak: generations, dispose cycles and cancellations', { skip: model ? false : 'no bundled model with a unet' }, async (t) => {
  const r = await runSoak({ model: model!, generations: 12, steps: 1, every: 4, warmup: 4, disposeCycles: 2, cancelRuns: 4, log: (l) => t.comment(l) })
  t.comment(`rss growth ${r.rssGrowthPercent}% over ${r.generations} generations of ${r.model}; heap growth ${r.heapGrowthMB} MB`)
  t.ok(r.deterministic, 'the same seed gives the same output every time')
  t.ok(r.rssGrowthPercent < 25, `rss growth ${r.rssGrowthPercent}% < 25%`)
  t.ok(r.heapGrowthMB < 20, `JS heap growth ${r.heapGrowthMB} MB < 20 MB`)
  t.ok(r.disposeCycles && r.disposeCycles.growthPercent < 25, `dispose cycles: rss ${r.disposeCycles?.rssBeforeMB} -> ${r.disposeCycles?.rssAfterMB} MB`)
  t.equal(r.cancel?.aborted, 4, 'every aborted generation ends with ABORTED')
  t.same(r.cancel?.otherErrors, [], 'no other errors')
  t.same(r.cancel?.resourcesAfter, r.cancel?.resourcesBefore, 'no handles or requests left behind by aborted runs')
})
