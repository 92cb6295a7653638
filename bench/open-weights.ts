/** Weight bytes of the sessions an engine has open, for the RSS ÷ weights ratio the bench scripts report. */
import { graphFiles } from '../src/engine/graphs';
import type { VarEngine } from '../src/engine/index';
import { GRAPH_NAMES, type GraphName } from '../src/engine/manifest';

/**
 * The `.onnx` + weights bytes of each graph whose session is open, at the precision it runs (the encoder only once
 * an encode opened it), and which graphs those are.
 */
export function openWeights(engine: VarEngine): { bytes: number; graphs: GraphName[] } {
  const m = engine.manifest;
  const graphs = GRAPH_NAMES.filter((g) => g !== 'encoder' || engine.coreContext().sessions.encoderOpen);
  const bytes = graphs.map((g) => graphFiles(m, g, engine.precision[g])).reduce((sum, f) => sum + m.files[f.model].bytes + m.files[f.weights].bytes, 0);
  return { bytes, graphs };
}
