/** The gallery's index.html: one self-contained page that opens from the file system. */

export interface GalleryEntry {
  section: 'image' | 'speech' | 'music' | 'pointcloud'
  title: string
  /** files relative to the gallery folder */
  files: { main: string; picture?: string; record: string; extra?: string[] }
  note?: string
}

const SECTIONS: { id: GalleryEntry['section']; heading: string; blurb: string }[] = [
  { id: 'image', heading: 'Images', blurb: 'Text-to-image with the bundled emoji latent-diffusion model.' },
  { id: 'speech', heading: 'Speech', blurb: 'Text-to-speech, word by word, with the bundled speech model (mel spectrogram diffusion + Griffin-Lim).' },
  { id: 'music', heading: 'Music', blurb: 'Note lists rendered with the bundled music model (one diffusion sample per note, chords summed).' },
  { id: 'pointcloud', heading: 'Point clouds', blurb: 'Class-conditional 3D point clouds (2048 points, xyz + rgb); drag to orbit, play the denoising.' },
]

function esc(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

function figure(e: GalleryEntry): string {
  const rec = `<a class="rec" href="${esc(e.files.record)}">record</a>`
  const caption = `<figcaption><span>${esc(e.title)}</span>${e.note ? ` <small>${esc(e.note)}</small>` : ''} ${rec}</figcaption>`
  switch (e.section) {
    case 'image':
      return `<figure class="image"><img src="${esc(e.files.main)}" alt="${esc(e.title)}" width="192" height="192">${caption}</figure>`
    case 'speech':
    case 'music':
      return `<figure class="audio"><img class="spec" src="${esc(e.files.picture ?? '')}" alt="spectrogram of ${esc(e.title)}"><audio controls preload="metadata" src="${esc(e.files.main)}"></audio>${caption}</figure>`
    case 'pointcloud':
      return `<figure class="cloud"><iframe src="${esc(e.files.main)}" title="${esc(e.title)}" loading="lazy"></iframe>${caption}${
        e.files.extra?.length ? `<div class="dl">${e.files.extra.map((f) => `<a href="${esc(f)}">${esc(f.split('.').pop()!)}</a>`).join(' ')}</div>` : ''
      }</figure>`
  }
}

export function galleryPage(entries: GalleryEntry[], meta: { version: string; seconds: number; machine: string; date: string }): string {
  const body = SECTIONS.filter((s) => entries.some((e) => e.section === s.id))
    .map(
      (s) =>
        `<section id="${s.id}"><h2>${s.heading}</h2><p>${esc(s.blurb)}</p><div class="grid ${s.id}">${entries
          .filter((e) => e.section === s.id)
          .map(figure)
          .join('\n')}</div></section>`,
    )
    .join('\n')
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>diffusekit gallery</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#111318;color:#e8e8ec}
header,section{max-width:1200px;margin:0 auto;padding:16px 24px}
h1{font-size:26px;margin:12px 0 4px}h2{font-size:20px;border-bottom:1px solid #333;padding-bottom:4px}
.grid{display:grid;gap:16px}.grid.image{grid-template-columns:repeat(auto-fill,minmax(200px,1fr))}
.grid.speech,.grid.music{grid-template-columns:repeat(auto-fill,minmax(340px,1fr))}
.grid.pointcloud{grid-template-columns:repeat(auto-fill,minmax(360px,1fr))}
figure{margin:0;background:#1b1e26;border-radius:8px;padding:10px}
figure img{image-rendering:pixelated;display:block;margin:auto;max-width:100%}
figure.audio img.spec{width:100%;height:120px;object-fit:fill;image-rendering:auto}
audio{width:100%;margin-top:6px}iframe{width:100%;height:340px;border:0;border-radius:6px;background:#000}
figcaption{margin-top:6px;font-size:13px;color:#c9c9d2}small{color:#8a8a96}a{color:#8ab4ff}.rec{float:right;font-size:12px}
.dl{font-size:12px}footer{max-width:1200px;margin:0 auto;padding:24px;color:#777;font-size:12px}
</style></head>
<body><header><h1>diffusekit gallery</h1>
<p>Everything on this page was generated offline by the models bundled with diffusekit ${esc(meta.version)}. Each item links its reproduction record: pass it to <code>--replay</code> to get the same result again.</p></header>
${body}
<footer>Rendered in ${meta.seconds.toFixed(1)} s on ${esc(meta.machine)}, ${esc(meta.date)}.</footer>
</body></html>
`
}
