// The attention viewer (report/viewer.py writes its section and, beside the page, the model's script).
// For each section.viewer: a list of inputs and a box to type one; the model's greedy answer with the
// probability of each token; every attention module's heads as heatmaps (rows: the positions that attend,
// columns: the positions attended to), each with what the study measured when it ablated that head and a
// box that ablates it here. The model runs in transformer.js; nothing is fetched, so it works from file://.
// The last drawing is kept in window.blocklabViewers[section id].last (inputs, answer, patterns) and
// .draws counts the drawings (also section.dataset.draws), so a test can read what the page computed.
(function () {
  "use strict";
  const T = window.BlocklabTransformer;
  const BLUE = [8, 48, 107];  // the colour of a weight of 1; 0 is white
  window.blocklabViewers = window.blocklabViewers || {};

  function element(tag, attrs, text) {
    const e = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => e.setAttribute(k, v));
    if (text !== undefined) { e.textContent = text; }
    return e;
  }

  function append(parent, ...children) {
    children.forEach((c) => parent.appendChild(typeof c === "string" ? document.createTextNode(c) : c));
    return parent;
  }

  // Typed text -> token ids, as report/viewer.py's read_input; throws an Error whose message says what is wrong.
  function readInput(text, spec) {
    const hint = "write it like " + spec.examples[0];
    let s = text.replace(/\s+/g, "");
    if (spec.digits) {
      const long = (s.match(/[0-9]+/g) || []).find((run) => run.length > spec.digits);
      if (long) { throw new Error(`${long} has more than ${spec.digits} digits; ${hint}`); }
      s = s.replace(/[0-9]+/g, (run) => run.padStart(spec.digits, "0"));
    }
    const byLength = spec.vocab.map((t, i) => i).sort((a, b) => spec.vocab[b].length - spec.vocab[a].length || a - b);
    const ids = [];
    for (let i = 0; i < s.length;) {
      const k = byLength.find((j) => s.startsWith(spec.vocab[j], i));
      if (k === undefined) { throw new Error(`cannot read '${text}': no token starts with '${s[i]}'; ${hint}`); }
      ids.push(k);
      i += spec.vocab[k].length;
    }
    if (!ids.length || (spec.length && ids.length !== spec.length)) {
      throw new Error(`'${text}' is ${ids.length} tokens, not ${spec.length || "at least 1"}; ${hint}`);
    }
    return ids.concat(spec.suffix.map((t) => spec.vocab.indexOf(t)));
  }

  // One head's pattern on a canvas, the query tokens down the left and the key tokens (turned) along the top.
  function drawPattern(canvas, rows, queries, keys) {
    const cell = Math.max(8, Math.min(24, Math.floor(260 / Math.max(queries.length, keys.length))));
    const ctx = canvas.getContext("2d");
    const font = "11px system-ui, sans-serif";
    ctx.font = font;
    const widest = (labels) => Math.ceil(Math.max(...labels.map((l) => ctx.measureText(l).width)));
    const left = widest(queries) + 6, top = widest(keys) + 6;
    canvas.width = left + cell * keys.length;  // resizing clears the canvas and its font
    canvas.height = top + cell * queries.length;
    ctx.font = font;
    ctx.fillStyle = "#222";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    queries.forEach((q, t) => ctx.fillText(q, left - 4, top + (t + 0.5) * cell));
    ctx.textAlign = "left";
    keys.forEach((k, s) => {
      ctx.save();
      ctx.translate(left + (s + 0.5) * cell, top - 4);
      ctx.rotate(-Math.PI / 2);
      ctx.fillText(k, 0, 0);
      ctx.restore();
    });
    rows.forEach((row, t) => row.forEach((w, s) => {
      ctx.fillStyle = `rgb(${BLUE.map((c) => Math.round(255 + (c - 255) * w)).join(",")})`;
      ctx.fillRect(left + s * cell, top + t * cell, cell, cell);
    }));
    ctx.strokeStyle = "#ccc";
    ctx.strokeRect(left + 0.5, top + 0.5, cell * keys.length - 1, cell * queries.length - 1);
    canvas.onmousemove = (e) => {  // the weight under the pointer, in the caption
      const box = canvas.getBoundingClientRect();
      const s = Math.floor((e.clientX - box.left - left) / cell), t = Math.floor((e.clientY - box.top - top) / cell);
      const inside = t >= 0 && t < queries.length && s >= 0 && s < keys.length;
      canvas.dataset.readout = inside ? `${queries[t]} → ${keys[s]}: ${rows[t][s].toFixed(3)}` : "";
      canvas.dispatchEvent(new Event("readout"));
    };
  }

  // A figure per head of module `m`: its canvas, what ablating it cost in the study, a box that ablates it.
  function headFigure(m, h, spec, onTick) {
    const canvas = element("canvas", {"data-module": m.name, "data-head": String(h)});
    const readout = element("div", {"class": "small readout"}, `head ${h}`);
    canvas.addEventListener("readout", () => { readout.textContent = `head ${h} ${canvas.dataset.readout}`; });
    const caption = append(element("figcaption"), readout);
    Object.entries(spec.effects).forEach(([label, byModule]) => {
      const value = (byModule[m.name] || [])[h];
      if (byModule[m.name]) {
        caption.appendChild(element("div", {"class": "small effect"},
                                    `${label}: ${value === null ? "—" : value.toFixed(2)}`));
      }
    });
    const tick = element("input", {type: "checkbox", "data-head": `${m.name}:${h}`});
    tick.addEventListener("change", () => onTick(tick.dataset.head, tick.checked));
    append(caption, append(element("label", {"class": "small"}, ""), tick, ` ablate head ${h}`));
    return {figure: append(element("figure", {"class": "head"}), canvas, caption), canvas: canvas, head: h};
  }

  function answerTable(run, spec) {
    const table = element("table");
    const headers = ["step", "token", "probability", "runner-up"].map((h) => element("th", {}, h));
    table.appendChild(append(element("tr"), ...headers));
    run.answer.forEach((a, i) => {
      const second = a.probabilities.map((p, k) => k).sort((x, y) => a.probabilities[y] - a.probabilities[x])[1];
      table.appendChild(append(element("tr"), element("td", {"class": "num"}, String(i + 1)),
                               element("td", {}, spec.vocab[a.id]), element("td", {"class": "num"}, a.p.toFixed(4)),
                               element("td", {}, `${spec.vocab[second]} ${a.probabilities[second].toFixed(4)}`)));
    });
    return append(element("div", {"class": "scroll"}), table);
  }

  function setup(section) {
    const exported = (window.BLOCKLAB_MODELS || {})[section.dataset.model];
    const problem = exported ? T.unsupported(exported.model) : "The model's script did not load.";
    if (problem) { section.appendChild(element("p", {"class": "failed"}, problem)); return; }
    const model = new T.Model(exported.model), spec = exported.viewer, ablated = {}, state = {draws: 0};
    window.blocklabViewers[section.id] = state;

    const list = element("select", {"aria-label": "example inputs"});
    spec.examples.forEach((x) => list.appendChild(element("option", {value: x}, x)));
    const typed = element("input", {type: "text", value: spec.examples[0], spellcheck: "false",
                                    "aria-label": "input"});
    const form = append(element("form", {"class": "viewer-input"}), append(element("label", {}, "Input "), list),
                        append(element("label", {}, "or type one "), typed));
    form.addEventListener("submit", (e) => e.preventDefault());
    const message = element("p", {"class": "viewer-message"}), answer = element("div", {"class": "viewer-answer"});
    append(section, form, message, answer);
    const labels = Object.keys(spec.effects);
    if (labels.length) {
      section.appendChild(element("p", {"class": "small"}, "Under each head, what the study measured when it ablated " +
        `that head alone in this model (cell ${spec.cell}, seed ${spec.seed}): ${labels.join("; ")}, ` +
        "of greedy exact match on its held-out problems."));
    }
    const onTick = (head, on) => { if (on) { ablated[head] = true; } else { delete ablated[head]; } redraw(); };
    const panels = T.modules(model).map((m) => {
      const figures = Array.from({length: model.config.n_heads}, (_, h) => headFigure(m, h, spec, onTick));
      append(section, append(element("div", {"class": "module"}), element("h3", {}, m.label),
                             append(element("div", {"class": "heads"}), ...figures.map((f) => f.figure))));
      return {module: m, figures: figures};
    });

    function redraw() {
      let run;
      try {
        run = T.greedy(model, readInput(typed.value, spec), spec.answer_tokens,
                       spec.bos === null ? null : spec.vocab.indexOf(spec.bos), ablated);
      } catch (err) {
        message.textContent = err.message;
        return;
      }
      message.textContent = "";
      const n = Object.keys(ablated).length, words = run.answer.map((a) => spec.vocab[a.id]).join(" ");
      answer.textContent = "";
      const which = n ? ` with ${n} head${n > 1 ? "s" : ""} ablated` : "";
      const note = spec.answer_note ? ` (${spec.answer_note})` : "";
      append(answer, element("p", {}, `The model's answer${which}: ${words}${note}`), answerTable(run, spec));
      const tokens = (ids) => ids.map((id, i) => `${i}:${spec.vocab[id]}`);  // position:token
      const patterns = {};
      Object.entries(run.patterns).forEach(([k, heads]) => {
        patterns[k] = heads.map((h) => h.map((row) => Array.from(row)));
      });
      panels.forEach((p) => p.figures.forEach((f) => drawPattern(f.canvas, patterns[p.module.name][f.head],
                                                                 tokens(run.inputs[p.module.queries]),
                                                                 tokens(run.inputs[p.module.keys]))));
      state.last = {text: typed.value, inputs: run.inputs, ablated: Object.keys(ablated), patterns: patterns,
                    answer: run.answer.map((a) => ({id: a.id, p: a.p, probabilities: a.probabilities}))};
      state.draws += 1;
      section.dataset.draws = String(state.draws);
    }

    list.addEventListener("change", () => { typed.value = list.value; redraw(); });
    typed.addEventListener("input", redraw);
    redraw();
  }

  document.querySelectorAll("section.viewer").forEach(setup);
}());
