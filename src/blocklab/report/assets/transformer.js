// A saved blocklab model's forward pass in plain JavaScript, for the attention viewer (viewer.js).
// It reads what report/model_export.py writes: the kind, the config and float32 tensors by their
// state-dict names, and follows blocklab.nn step by step: Embedder (tokens, scaled, plus sinusoidal or
// learned positions), Residual (pre- or post-norm), MultiHeadAttention (head_mask zeroes a head's
// output before out_proj), FeedForward, the final norm and the output layer; Seq2SeqTransformer's
// encoder, and its decoder with self- and cross-attention. Arithmetic is float64 on float32 weights.
// Shapes: T query positions, S key positions, D model width, H heads, Dh head width; a (T, D)
// activation is one flat Float64Array, row by row.
(function () {
  "use strict";

  var POSITIONS = ["sinusoidal", "learned", "none"];

  // Why this page cannot run the model, or "" if it can.
  function unsupported(model) {
    var c = model.config;
    if (model.kind !== "GPT" && model.kind !== "Seq2SeqTransformer") {
      return "The viewer runs a GPT or a Seq2SeqTransformer; this model is a " + model.kind + ".";
    }
    if (POSITIONS.indexOf(c.pos_encoding) < 0) {
      return "The viewer computes the positional encodings " + POSITIONS.join(", ") + "; this model uses '" +
        c.pos_encoding + "'.";
    }
    if (c.norm === "batch") { return "The viewer has no batch norm (norm='batch'), only 'layer', 'rms' or 'none'."; }
    if (c.mixer !== "attention") { return "This model mixes positions without attention (mixer='" + c.mixer + "')."; }
    return "";
  }

  function floats(base64) {
    var bytes = atob(base64), buffer = new Uint8Array(bytes.length);
    for (var i = 0; i < bytes.length; i++) { buffer[i] = bytes.charCodeAt(i); }
    return new Float32Array(buffer.buffer);  // little-endian, as exported
  }

  function Model(exported) {
    this.kind = exported.kind;
    this.config = exported.config;
    this.useFinalNorm = exported.use_final_norm;
    this.data = floats(exported.data);
    this.tensors = exported.tensors;
    this.aliases = exported.aliases;
  }

  // The tensor `name` (a Float32Array view), or null if the model has none (a bias-free Linear).
  Model.prototype.get = function (name) {
    var t = this.tensors[this.aliases[name] || name];
    if (!t) { return null; }
    var size = t.shape.reduce(function (a, b) { return a * b; }, 1);
    return this.data.subarray(t.offset, t.offset + size);
  };

  // x (T, inD) -> x W^T + b (T, outD), W (outD, inD) as torch.nn.Linear stores it.
  function linear(model, name, x, T, inD) {
    var w = model.get(name + ".weight"), b = model.get(name + ".bias");
    var outD = w.length / inD, y = new Float64Array(T * outD);
    for (var t = 0; t < T; t++) {
      for (var o = 0; o < outD; o++) {
        var sum = b ? b[o] : 0, row = o * inD, at = t * inD;
        for (var i = 0; i < inD; i++) { sum += x[at + i] * w[row + i]; }
        y[t * outD + o] = sum;
      }
    }
    return y;
  }

  function norm(model, name, x, T) {
    var c = model.config, D = c.d_model;
    if (c.norm === "none") { return x; }
    var w = model.get(name + ".weight"), b = model.get(name + ".bias"), y = new Float64Array(T * D);
    for (var t = 0; t < T; t++) {
      var mean = 0, sq = 0, i;
      if (c.norm === "layer") {
        for (i = 0; i < D; i++) { mean += x[t * D + i]; }
        mean /= D;
      }
      for (i = 0; i < D; i++) { sq += Math.pow(x[t * D + i] - mean, 2); }
      var scale = 1 / Math.sqrt(sq / D + c.norm_eps);
      for (i = 0; i < D; i++) { y[t * D + i] = (x[t * D + i] - mean) * scale * w[i] + (b ? b[i] : 0); }
    }
    return y;
  }

  // erf to double precision: its Maclaurin series below 2.5, the continued fraction of erfc above.
  function erf(x) {
    var a = Math.abs(x);
    if (a < 2.5) {
      var sum = x, term = x;
      for (var n = 1; n < 100; n++) {
        term *= -x * x / n;
        sum += term / (2 * n + 1);
        if (Math.abs(term) < 1e-17) { break; }
      }
      return 2 / Math.sqrt(Math.PI) * sum;
    }
    var f = 0;
    for (var k = 80; k >= 1; k--) { f = (k / 2) / (a + f); }
    var erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + f);
    return x > 0 ? 1 - erfc : erfc - 1;
  }

  var ACTIVATIONS = {
    relu: function (v) { return v > 0 ? v : 0; },
    gelu: function (v) { return 0.5 * v * (1 + erf(v / Math.SQRT2)); },  // exact, as torch's default
    silu: function (v) { return v / (1 + Math.exp(-v)); }
  };

  function feedForward(model, name, x, T) {
    var c = model.config, h = linear(model, name + ".up", x, T, c.d_model);
    var gate = c.activation === "swiglu" ? linear(model, name + ".gate", x, T, c.d_model) : null;
    var act = ACTIVATIONS[gate ? "silu" : c.activation];
    for (var i = 0; i < h.length; i++) { h[i] = act(h[i]) * (gate ? gate[i] : 1); }
    return linear(model, name + ".down", h, T, c.d_ff);
  }

  // Multi-head attention of x (T, D) over source (S, D). mask(t, s): may query t see key s.
  // Returns the output (T, D) and the pattern, pattern[h][t] a Float64Array over s (zeros where nothing is visible).
  function attention(model, name, x, T, source, S, mask, ablated) {
    var c = model.config, D = c.d_model, H = c.n_heads, Dh = D / H;
    var Hkv = c.n_kv_heads || H, group = H / Hkv;
    var q = linear(model, name + ".q_proj", x, T, D);
    var k = linear(model, name + ".k_proj", source, S, D), v = linear(model, name + ".v_proj", source, S, D);
    var factor = (c.attn_scale ? 1 / Math.sqrt(Dh) : 1) / c.attn_temperature;
    var z = new Float64Array(T * D), pattern = [];
    for (var h = 0; h < H; h++) {
      var kh = Math.floor(h / group), rows = [];  // grouped-query: heads share K/V as repeat_interleave does
      for (var t = 0; t < T; t++) {
        var scores = new Float64Array(S), top = -Infinity, s, d;
        for (s = 0; s < S; s++) {
          if (!mask(t, s)) { scores[s] = -Infinity; continue; }
          var dot = 0;
          for (d = 0; d < Dh; d++) { dot += q[t * D + h * Dh + d] * k[s * Hkv * Dh + kh * Dh + d]; }
          scores[s] = dot * factor;
          top = Math.max(top, scores[s]);
        }
        var weights = new Float64Array(S), total = 0;
        if (top > -Infinity) {
          for (s = 0; s < S; s++) { weights[s] = Math.exp(scores[s] - top); total += weights[s]; }
          for (s = 0; s < S; s++) { weights[s] /= total; }
        }
        rows.push(weights);
        if (ablated[name + ":" + h]) { continue; }  // head_mask 0: this head adds nothing
        for (d = 0; d < Dh; d++) {
          var sum = 0;
          for (s = 0; s < S; s++) { sum += weights[s] * v[s * Hkv * Dh + kh * Dh + d]; }
          z[t * D + h * Dh + d] = sum;
        }
      }
      pattern.push(rows);
    }
    return {out: linear(model, name + ".out_proj", z, T, D), pattern: pattern};
  }

  // Residual: pre-norm x = scale x + f(norm(x)); post-norm x = norm(scale x + f(x)); no residual: f alone.
  function residual(model, name, x, T, f) {
    var c = model.config, pre = c.norm_position === "pre";
    var fx = f(pre ? norm(model, name + ".norm", x, T) : x);
    if (c.residual) {
      for (var i = 0; i < fx.length; i++) { fx[i] += c.residual_scale * x[i]; }
    }
    return pre ? fx : norm(model, name + ".norm", fx, T);
  }

  // One block; cross-attention when memory is given. Patterns go into `patterns` by module name.
  function block(model, name, x, T, self, memory, patterns, ablated) {
    var c = model.config;
    x = residual(model, name + ".res_attn", x, T, function (h) {
      var a = attention(model, name + ".attn", h, T, h, T, self, ablated);
      patterns[name + ".attn"] = a.pattern;
      return a.out;
    });
    if (memory) {
      x = residual(model, name + ".res_cross", x, T, function (h) {
        var a = attention(model, name + ".cross_attn", h, T, memory.x, memory.S, memory.mask, ablated);
        patterns[name + ".cross_attn"] = a.pattern;
        return a.out;
      });
    }
    if (c.ffn) {
      x = residual(model, name + ".res_mlp", x, T, function (h) { return feedForward(model, name + ".mlp", h, T); });
    }
    return x;
  }

  // PE[p, 2i] = sin(p / base^(2i/D)), PE[p, 2i+1] = cos(same), rounded to float32 as blocklab's table is.
  function sinusoid(p, D, base) {
    var row = new Float64Array(D);
    for (var i = 0; i < D; i += 2) {
      var angle = p * Math.pow(base, -i / D);
      row[i] = Math.fround(Math.sin(angle));
      row[i + 1] = Math.fround(Math.cos(angle));
    }
    return row;
  }

  // Token ids -> (T, D): token vectors, times sqrt(D) with scale_embeddings, plus positions 0..T-1.
  function embed(model, name, ids) {
    var c = model.config, D = c.d_model, T = ids.length, x = new Float64Array(T * D);
    var tok = model.get(name + ".tok.weight"), table = model.get(name + ".pos.table.weight");
    var scale = c.scale_embeddings ? Math.sqrt(D) : 1;
    if (c.pos_encoding === "learned" && T > c.max_len && c.learned_overflow !== "clamp") {
      throw new Error("the input is " + T + " tokens, past the learned position table of " + c.max_len);
    }
    for (var t = 0; t < T; t++) {
      var pe = c.pos_encoding === "sinusoidal" ? sinusoid(t, D, c.pos_base) : null;
      var row = Math.min(t, c.max_len - 1);
      for (var i = 0; i < D; i++) {
        var value = tok[ids[t] * D + i] * scale;
        if (pe) { value += pe[i]; } else if (table) { value += table[row * D + i]; }
        x[t * D + i] = value;
      }
    }
    return x;
  }

  function stack(model, prefix, layers, x, T, self, memory, patterns, ablated) {
    for (var i = 0; i < layers; i++) {
      x = block(model, prefix + "blocks." + i, x, T, self, memory, patterns, ablated);
    }
    return x;
  }

  function causal(t, s) { return s <= t; }

  // The logits (T, V) of a pass over `inputs` ({tokens} for a GPT, {src, dec} for an encoder-decoder),
  // and every attention pattern by module name. ablated: {"module:head": true}.
  function forward(model, inputs, ablated) {
    var c = model.config, patterns = {}, x, T;
    if (model.kind === "GPT") {
      T = inputs.tokens.length;
      x = stack(model, "", c.n_layers, embed(model, "embed", inputs.tokens), T, causal, null, patterns, ablated);
      if (model.useFinalNorm) { x = norm(model, "norm_f", x, T); }
    } else {
      var src = inputs.src, S = src.length;
      var visible = function (t, s) { return c.pad_id === null || src[s] !== c.pad_id; };
      var memory = stack(model, "encoder.", c.n_encoder_layers, embed(model, "src_embed", src), S, visible, null,
                         patterns, ablated);
      if (model.useFinalNorm) { memory = norm(model, "encoder.norm", memory, S); }
      T = inputs.dec.length;
      x = stack(model, "decoder.", c.n_decoder_layers, embed(model, "tgt_embed", inputs.dec), T, causal,
                {x: memory, S: S, mask: visible}, patterns, ablated);
      if (model.useFinalNorm) { x = norm(model, "decoder.norm", x, T); }
    }
    return {logits: linear(model, "lm_head", x, T, c.d_model), T: T, patterns: patterns};
  }

  // Softmax of row t of logits (T, V): the probability of each token.
  function probabilities(logits, T, t) {
    var V = logits.length / T, row = logits.subarray(t * V, (t + 1) * V), top = Math.max.apply(null, row);
    var p = Array.prototype.map.call(row, function (v) { return Math.exp(v - top); });
    var total = p.reduce(function (a, b) { return a + b; }, 0);
    return p.map(function (v) { return v / total; });
  }

  function argmax(p) {
    var best = 0;
    for (var i = 1; i < p.length; i++) { if (p[i] > p[best]) { best = i; } }
    return best;
  }

  // Greedy decoding of `count` tokens after `prompt` (GPT) or from `src` after `bos` (encoder-decoder).
  // Returns the answer [{id, p, top}] and the last pass: its inputs and patterns (the pass that wrote the
  // last token saw everything before it, so its patterns hold every step's).
  function greedy(model, prompt, count, bos, ablated) {
    var answer = [], inputs, pass;
    for (var step = 0; step < count; step++) {
      var written = answer.map(function (a) { return a.id; });
      inputs = model.kind === "GPT" ? {tokens: prompt.concat(written)} : {src: prompt, dec: [bos].concat(written)};
      pass = forward(model, inputs, ablated);
      var p = probabilities(pass.logits, pass.T, pass.T - 1), id = argmax(p);
      answer.push({id: id, p: p[id], probabilities: p});
    }
    return {answer: answer, inputs: inputs, patterns: pass.patterns};
  }

  // The attention modules in forward order: [{name, label, queries, keys}] with queries/keys "tokens", "src", "dec".
  function modules(model) {
    var c = model.config, out = [], i;
    if (model.kind === "GPT") {
      for (i = 0; i < c.n_layers; i++) {
        out.push({name: "blocks." + i + ".attn", label: "block " + i + " self-attention", queries: "tokens",
                  keys: "tokens"});
      }
      return out;
    }
    for (i = 0; i < c.n_encoder_layers; i++) {
      out.push({name: "encoder.blocks." + i + ".attn", label: "encoder block " + i + " self-attention",
                queries: "src", keys: "src"});
    }
    for (i = 0; i < c.n_decoder_layers; i++) {
      out.push({name: "decoder.blocks." + i + ".attn", label: "decoder block " + i + " self-attention",
                queries: "dec", keys: "dec"});
      out.push({name: "decoder.blocks." + i + ".cross_attn", label: "decoder block " + i + " cross-attention",
                queries: "dec", keys: "src"});
    }
    return out;
  }

  window.BlocklabTransformer = {unsupported: unsupported, Model: Model, forward: forward, greedy: greedy,
                                modules: modules, erf: erf};
}());
