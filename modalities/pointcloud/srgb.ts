/** sRGB-encoded component in [0, 1] → linear light (IEC 61966-2-1), as glTF's COLOR_0 and three.js expect. */
export function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4)
}
