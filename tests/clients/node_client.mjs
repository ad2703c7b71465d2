// Scores texts with transformers.js, as a web or Node user runs a goemox export: the text-classification
// pipeline over the folder's onnx/model.onnx (dtype fp32) or onnx/model_quantized.onnx (dtype q8), local files only.
//
// Usage: node node_client.mjs NODE_DIR MODEL_DIR TEXTS_JSON DTYPE
//   NODE_DIR    the folder whose node_modules holds @huggingface/transformers (scripts/install_clients.sh builds it)
//   MODEL_DIR   the exported folder (config.json, tokenizer files, onnx/)
//   TEXTS_JSON  a JSON file holding a list of texts
//   DTYPE       fp32 or q8
// Prints one JSON object: {"client": "transformers.js X", "scores": [{label: score, ...} per text]}.
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const [nodeDir, modelDir, textsFile, dtype] = process.argv.slice(2);
if (!dtype) {
    console.error('usage: node node_client.mjs NODE_DIR MODEL_DIR TEXTS_JSON DTYPE');
    process.exit(2);
}
// The runner lives in the repository and the library in the built client folder: resolve it from there.
const requireFromClients = createRequire(path.join(path.resolve(nodeDir), 'package.json'));
const { pipeline, env } = requireFromClients('@huggingface/transformers');

env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = path.dirname(path.resolve(modelDir));

const texts = JSON.parse(readFileSync(textsFile, 'utf8'));
const classify = await pipeline('text-classification', path.basename(path.resolve(modelDir)), { dtype, device: 'cpu' });
// One call for all texts: the pipeline tokenizes them as one padded batch. top_k null: every label's score.
const results = await classify(texts, { top_k: null });
const scores = results.map((row) => Object.fromEntries(row.map(({ label, score }) => [label, score])));
process.stdout.write(JSON.stringify({ client: `transformers.js ${env.version}`, scores }) + '\n');
