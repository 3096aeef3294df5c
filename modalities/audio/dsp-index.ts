/**
 * The audio signal-processing layer (re-exported by modalities/audio/index.ts):
 * FFT of any size, STFT/iSTFT (torch semantics), mel filterbanks and their inverse (torchaudio
 * semantics), Griffin-Lim (TypeScript, native CPU, CUDA), the Riffusion spectrogram-image format,
 * WAV read/write and resampling. API summary: /tmp/team/audio-dsp-api.md (kept in this file's JSDoc).
 */
export { fft, ifft, rfft, irfft, fftPlan, factorize, MAX_FFT_SIZE, type FftPlan } from './fft.js'
export {
  stft,
  istft,
  magnitude,
  hannWindow,
  frameCount,
  resolveStftOptions,
  StftEngine,
  type StftOptions,
  type Spectrogram,
  type ResolvedStft,
} from './stft.js'
export {
  melFilterbank,
  applyMel,
  melToLinear,
  hzToMel,
  melToHz,
  type MelOptions,
  type MelFilterbank,
  type MelScaleType,
  type MelNorm,
  type MelToLinearOptions,
} from './mel.js'
export { griffinLim, griffinLimReference, resolveGriffinLim, type GriffinLimOptions } from './griffin-lim.js'
export {
  RIFFUSION,
  spectrogramToImage,
  imageToSpectrogram,
  audioToRiffusionImage,
  riffusionImageToAudio,
  riffusionMel,
  type ImagePixels,
  type MelSpectrogramChannels,
  type RiffusionToAudioOptions,
} from './riffusion.js'
export {
  readWav,
  decodeWav,
  encodeWav,
  writeWav,
  resample,
  resampleAudio,
  toMono,
  checkAudio,
  type AudioData,
  type EncodeWavOptions,
  type ResampleOptions,
} from './wav.js'
export { nativeAudioStatus } from '../../src/native/audio.js'
