/** diffusekit/pointcloud: clouds (PLY / GLB / HTML preview), PointFlow metrics, and the class-conditional pipeline. */
export { PointCloud, type SaveOptions } from './cloud.js'
export { parsePly, encodePly, colourToByte, type PlyData, type PlyFormat, type PlyWriteOptions } from './ply.js'
export { encodeGlb } from './glb.js'
export { previewHtml, type PreviewFrame, type PreviewOptions } from './html.js'
export {
  chamferDistance,
  chamferMatrix,
  metricsFromMatrices,
  pointFlowMetrics,
  type Normalization,
  type PointFlowMetrics,
  type PointSet,
} from './metrics.js'
export { loadPipeline, PointCloudPipeline, type PointCloudGenerateOptions } from './pipeline.js'
export { srgbToLinear } from './srgb.js'
export { writeFileAtomic } from './files.js'
