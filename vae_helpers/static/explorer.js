// The latent explorer, running entirely in the page: the models' MLP decoders (and, for the
// drawing pad, their encoders) are evaluated here in plain JavaScript on typed arrays, so the
// sliders move with no kernel (a busy kernel, an HTML export, the course website).
// Written for vae_helpers (Python builds the payload: int8 weights with one scale per row).
// A plain script: it defines window.vhExplorer once, whatever the number of explorers on a page.
(function () {
  "use strict";
  const VERSION = 8;  // bump on every change: a page keeps the first explorer.js it ran
  const SCHEMA = 1;   // the payload contract of vae_helpers/payload.py (SCHEMA_VERSION); tests keep them equal
  if (window.vhExplorer && window.vhExplorer.version === VERSION) return;

  const MINUS = "\u2212";
  // Okabe & Ito's colour-blind-safe palette, extended to ten classes; class names are also
  // written at each cluster's centre, so the classes are told apart without colour.
  const PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9",
                   "#D55E00", "#F0E442", "#000000", "#999999", "#882255"];

  // ---- numbers ------------------------------------------------------------------------------
  function bytes(b64) {
    const s = atob(b64);
    const out = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
    return out;
  }
  const f32 = (b64) => new Float32Array(bytes(b64).buffer);
  const i8 = (b64) => new Int8Array(bytes(b64).buffer);

  // One dense layer from its payload: W[o, i] = q[o, i] * scale[o, i / group] (int8, a scale per
  // group of at most 64 weights of a row), bias b[o].
  function layer(spec) {
    const q = i8(spec.w), scale = f32(spec.scale), n = spec.in, m = spec.out, g = spec.group;
    const groups = Math.ceil(n / g), W = new Float32Array(n * m);
    for (let o = 0; o < m; o++) {
      for (let i = 0; i < n; i++) W[o * n + i] = q[o * n + i] * scale[o * groups + Math.floor(i / g)];
    }
    return { W: W, b: f32(spec.b), n: n, m: m };
  }

  // x -> ReLU(W1 x + b1) -> ... -> W_last x + b_last (no activation after the last layer).
  function mlp(layers, x) {
    let h = x;
    for (let l = 0; l < layers.length; l++) {
      const L = layers[l], y = new Float32Array(L.m), last = l === layers.length - 1;
      for (let o = 0; o < L.m; o++) {
        let acc = L.b[o];
        const row = o * L.n;
        for (let i = 0; i < L.n; i++) acc += L.W[row + i] * h[i];
        y[o] = last || acc > 0 ? acc : 0;
      }
      h = y;
    }
    return h;
  }

  // Decoder output -> displayed pixel value, by the payload's layout.output (a likelihood's `output` in
  // vae_helpers/likelihoods.py; payload.check_explorer_js fails when one of those is missing here).
  const OUTPUTS = {
    sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  };

  function decode(model, z, label) {
    const input = new Float32Array(model.decoderIn);
    input.set(z);
    if (model.nClasses) input[model.labelAtDecoder + label] = 1;
    const logits = mlp(model.decoder, input);
    const p = new Float32Array(logits.length);
    for (let i = 0; i < logits.length; i++) p[i] = model.output(logits[i]);
    return p;  // pixel values, one per pixel of layout.image_shape
  }

  function encode(model, pixels, label) {
    const input = new Float32Array(model.encoderIn);
    input.set(pixels);
    if (model.nClasses) input[model.labelAtEncoder + label] = 1;
    return Array.from(mlp(model.encoder, input).slice(0, model.dim));  // layout.code: z (point) or mu (mean_logvar)
  }

  function readLayout(m, dim) {  // the payload's contract (vae_helpers/payload.py model_layout), checked
    const layout = m.layout;
    if (!layout) throw new Error(`model ${m.name} has no layout: a payload older than schema ${SCHEMA}`);
    if (!Object.prototype.hasOwnProperty.call(OUTPUTS, layout.output)) {
      throw new Error(`unknown decoder output ${layout.output}: this explorer.js knows ${Object.keys(OUTPUTS).join(", ")}`);
    }
    if (!["point", "mean_logvar", "none"].includes(layout.code)) throw new Error(`unknown code layout ${layout.code}`);
    const pixels = layout.image_shape.reduce((a, b) => a * b, 1);
    if (m.decoder[m.decoder.length - 1].out !== pixels) throw new Error(`decoder of ${m.name} does not output ${pixels} pixels`);
    return { nClasses: layout.n_classes, labelAtEncoder: layout.label_at_encoder, labelAtDecoder: layout.label_at_decoder,
             pixels: pixels, dim: dim, output: OUTPUTS[layout.output] };
  }

  function gaussian() {  // Box-Muller
    const u = 1 - Math.random(), v = Math.random();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  const fmt = (v, digits) => (v < 0 ? MINUS : "+") + Math.abs(v).toFixed(digits === undefined ? 2 : digits);
  const fmtTick = (v) => (v < 0 ? MINUS : "") + String(Math.abs(+v.toFixed(2)));
  const el = (tag, attrs, parent) => {
    const e = document.createElement(tag);
    for (const k in attrs || {}) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "style") e.style.cssText = attrs[k];
      else e.setAttribute(k, attrs[k]);
    }
    if (parent) parent.appendChild(e);
    return e;
  };

  // ---- drawing ------------------------------------------------------------------------------
  function paintDigit(canvas, pixels) {  // 784 values in [0, 1] -> a grey 28 x 28 canvas (CSS scales it)
    const ctx = canvas.getContext("2d"), img = ctx.createImageData(28, 28);
    for (let i = 0; i < pixels.length; i++) {
      const v = Math.round(255 * Math.min(1, Math.max(0, pixels[i])));
      img.data[4 * i] = img.data[4 * i + 1] = img.data[4 * i + 2] = v;
      img.data[4 * i + 3] = 255;
    }
    ctx.putImageData(img, 0, 0);
  }

  // MNIST's own preprocessing for a drawing: the ink's bounding box scaled to fit 20 x 20
  // (aspect kept, grey levels from anti-aliasing), then placed in 28 x 28 so that its centre of
  // mass sits at the centre. Returns 784 values in [0, 1], or null for an empty pad.
  function preprocessDrawing(canvas) {
    const w = canvas.width, h = canvas.height;
    const data = canvas.getContext("2d").getImageData(0, 0, w, h).data;
    let x0 = w, y0 = h, x1 = -1, y1 = -1;
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
      if (data[4 * (y * w + x)] > 0) { x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y); }
    }
    if (x1 < 0) return null;
    const bw = x1 - x0 + 1, bh = y1 - y0 + 1, k = 20 / Math.max(bw, bh);
    const sw = Math.max(1, Math.round(bw * k)), sh = Math.max(1, Math.round(bh * k));
    const small = document.createElement("canvas");
    small.width = sw; small.height = sh;
    const sctx = small.getContext("2d");
    sctx.imageSmoothingEnabled = true;
    sctx.imageSmoothingQuality = "high";
    sctx.drawImage(canvas, x0, y0, bw, bh, 0, 0, sw, sh);
    const sd = sctx.getImageData(0, 0, sw, sh).data;
    let mass = 0, cx = 0, cy = 0;
    for (let y = 0; y < sh; y++) for (let x = 0; x < sw; x++) {
      const v = sd[4 * (y * sw + x)] / 255;
      mass += v; cx += v * x; cy += v * y;
    }
    const ox = Math.round(14 - (mass ? cx / mass : sw / 2) - 0.5), oy = Math.round(14 - (mass ? cy / mass : sh / 2) - 0.5);
    const out = new Float32Array(784);
    for (let y = 0; y < sh; y++) for (let x = 0; x < sw; x++) {
      const tx = x + ox, ty = y + oy;
      if (tx >= 0 && tx < 28 && ty >= 0 && ty < 28) out[ty * 28 + tx] = sd[4 * (y * sw + x)] / 255;
    }
    return out;
  }

  // ---- the 2-D latent map ---------------------------------------------------------------------
  function LatentMap(parent, spec, labels, classes, title) {
    const size = 250, pad = { l: 44, r: 8, t: 22, b: 36 };
    const wrap = el("div", { class: "vh-map", style: `position:relative;width:${size}px;height:${size}px` }, parent);
    const ratio = window.devicePixelRatio || 1;
    const layers = [0, 1].map(() => {
      const c = el("canvas", { width: size * ratio, height: size * ratio,
        style: `position:absolute;left:0;top:0;width:${size}px;height:${size}px` }, wrap);
      const ctx = c.getContext("2d");
      ctx.scale(ratio, ratio);
      return { canvas: c, ctx: ctx };
    });
    layers[1].canvas.setAttribute("aria-hidden", "true");
    const [[xa, xb], [ya, yb]] = spec.limits;
    const W = size - pad.l - pad.r, H = size - pad.t - pad.b;
    const px = (x) => pad.l + (x - xa) / (xb - xa) * W;
    const py = (y) => pad.t + (1 - (y - ya) / (yb - ya)) * H;
    const codes = f32(spec.codes);
    const ctx = layers[0].ctx;
    ctx.fillStyle = "#fff"; ctx.fillRect(0, 0, size, size);
    for (let i = 0; i < labels.length; i++) {
      ctx.fillStyle = PALETTE[labels[i] % PALETTE.length];
      ctx.globalAlpha = 0.55;
      ctx.fillRect(px(codes[2 * i]) - 1.5, py(codes[2 * i + 1]) - 1.5, 3, 3);
    }
    ctx.globalAlpha = 1;
    // class names at each cluster's median: the classes can be told apart without colour
    ctx.font = "bold 12px sans-serif"; ctx.textAlign = "center"; ctx.textBaseline = "middle";
    for (let c = 0; c < classes.length; c++) {
      const xs = [], ys = [];
      for (let i = 0; i < labels.length; i++) if (labels[i] === c) { xs.push(codes[2 * i]); ys.push(codes[2 * i + 1]); }
      if (!xs.length) continue;
      xs.sort((a, b) => a - b); ys.sort((a, b) => a - b);
      const mx = px(xs[xs.length >> 1]), my = py(ys[ys.length >> 1]);
      const name = classes[c].length > 7 ? classes[c].slice(0, 6) + "." : classes[c];
      ctx.lineWidth = 3; ctx.strokeStyle = "rgba(255,255,255,0.9)"; ctx.strokeText(name, mx, my);
      ctx.fillStyle = "#000"; ctx.fillText(name, mx, my);
    }
    // axes, ticks (12 px), labels
    ctx.strokeStyle = "#333"; ctx.lineWidth = 1; ctx.strokeRect(pad.l, pad.t, W, H);
    ctx.fillStyle = "#222"; ctx.font = "12px sans-serif";
    const ticks = (a, b) => { const step = niceStep((b - a) / 4), out = []; for (let v = Math.ceil(a / step) * step; v <= b + 1e-9; v += step) out.push(v); return out; };
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    for (const v of ticks(xa, xb)) { ctx.fillText(fmtTick(v), px(v), pad.t + H + 3); ctx.beginPath(); ctx.moveTo(px(v), pad.t + H); ctx.lineTo(px(v), pad.t + H + 3); ctx.stroke(); }
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    for (const v of ticks(ya, yb)) { ctx.fillText(fmtTick(v), pad.l - 4, py(v)); ctx.beginPath(); ctx.moveTo(pad.l - 3, py(v)); ctx.lineTo(pad.l, py(v)); ctx.stroke(); }
    ctx.textAlign = "center"; ctx.textBaseline = "bottom"; ctx.font = "13px sans-serif";
    ctx.fillText("z[0]", pad.l + W / 2, size - 2);
    ctx.save(); ctx.translate(12, pad.t + H / 2); ctx.rotate(-Math.PI / 2); ctx.fillText("z[1]", 0, 0); ctx.restore();
    ctx.textBaseline = "top"; ctx.font = "12px sans-serif"; ctx.fillText(title, pad.l + W / 2, 3);
    layers[0].canvas.setAttribute("role", "img");
    layers[0].canvas.setAttribute("aria-label", `${title}: ${labels.length} test images in the 2-D latent space, coloured and labelled by class`);
    this.marker = (z) => {
      const m = layers[1].ctx;
      m.clearRect(0, 0, size, size);
      const x = Math.min(Math.max(px(z[0]), pad.l), pad.l + W), y = Math.min(Math.max(py(z[1]), pad.t), pad.t + H);
      for (const [width, colour] of [[5, "#fff"], [2, "#000"]]) {
        m.lineWidth = width; m.strokeStyle = colour; m.beginPath();
        m.moveTo(x - 8, y); m.lineTo(x + 8, y); m.moveTo(x, y - 8); m.lineTo(x, y + 8); m.stroke();
      }
      this.at = [x, y];
    };
  }
  function niceStep(raw) {
    const p = Math.pow(10, Math.floor(Math.log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * p;
  }

  function legend(parent, classes) {
    const box = el("div", { class: "vh-legend", style: "display:flex;flex-wrap:wrap;gap:2px 10px;max-width:540px;font-size:12px;margin:2px 0" }, parent);
    classes.forEach((name, c) => {
      const item = el("span", { style: "white-space:nowrap" }, box);
      el("span", { style: `display:inline-block;width:10px;height:10px;margin-right:3px;background:${PALETTE[c % PALETTE.length]}` }, item);
      item.appendChild(document.createTextNode(name));
    });
  }

  // ---- the explorer ---------------------------------------------------------------------------
  function mount(root, P, bridge) {
    if (P.schema !== SCHEMA) throw new Error(`payload schema ${P.schema}, this explorer.js reads schema ${SCHEMA}`);
    const dim = P.latent_dim, step = P.step;
    const models = P.models.map((m) => ({
      name: m.name, kind: m.kind, ...readLayout(m, dim),                       // nClasses > 0: a conditional model
      decoder: m.decoder.map(layer), decoderIn: m.decoder[0].in,
      encoder: m.encoder ? m.encoder.map(layer) : null, encoderIn: m.encoder ? m.encoder[0].in : 0,
      testCodes: m.test_codes ? f32(m.test_codes) : null, inactive: m.inactive || [],
    }));
    const labels = P.labels ? bytes(P.labels) : null;
    const testLabels = P.test_labels ? bytes(P.test_labels) : null;
    const state = { z: P.z0.slice(), perModel: P.model_z0.map((z) => z.slice()), label: P.label0 || 0,
                    shown: 0, note: P.note0 || "" };
    const stats = { times: [] };

    root.setAttribute("data-lm-suppress-shortcuts", "true");  // JupyterLab / Notebook 7 keep their hands off our keys
    root.addEventListener("keydown", (e) => e.stopPropagation());
    root.style.cssText += ";font-family:sans-serif;font-size:13px;color:#111;max-width:900px";

    const top = el("div", { style: "display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start" }, root);
    const columns = models.map((m, i) => {
      const col = el("div", { class: "vh-model", style: "display:flex;flex-direction:column;align-items:center" }, top);
      el("div", { text: m.name, style: "font-weight:bold;font-size:15px;margin-bottom:2px" }, col);
      const img = el("canvas", { width: 28, height: 28, class: "vh-decoded", role: "img",
        style: "width:196px;height:196px;image-rendering:pixelated;border:1px solid #ccc" }, col);
      const map = P.maps && P.maps[i] ? new LatentMap(col, P.maps[i], labels, P.classes, `${m.name}: ${m.kind === "VAE" ? "means" : "codes"} of test images`) : null;
      return { col: col, img: img, map: map };
    });
    if (P.maps && labels) legend(root, P.classes);

    // optional: choose the shown model (e.g. one beta at a time), choose the class (conditional models)
    const selectors = el("div", { style: "display:flex;flex-wrap:wrap;gap:12px;margin:6px 0" }, root);
    let modelSelect = null, classSelect = null;
    if (P.show_one && models.length > 1) {
      const label = el("label", { text: "model ", style: "font-size:13px" }, selectors);
      modelSelect = el("select", { "aria-label": "model shown" }, label);
      models.forEach((m, i) => el("option", { value: i, text: m.name }, modelSelect));
      modelSelect.addEventListener("change", () => { state.shown = +modelSelect.value; layout(); refresh(); });
    }
    if (P.n_conditions) {
      const label = el("label", { text: `class given to the decoder `, style: "font-size:13px" }, selectors);
      classSelect = el("select", { "aria-label": "class given to the decoder" }, label);
      P.classes.forEach((c, i) => el("option", { value: i, text: c }, classSelect));
      classSelect.value = state.label;
      classSelect.addEventListener("change", () => { state.label = +classSelect.value; refresh(); });
    }

    // sliders, paged by eight
    const perPage = 8, pages = Math.ceil(dim / perPage);
    const sliderBox = el("div", { class: "vh-sliders" }, root);
    let pageSelect = null;
    if (pages > 1) {
      const label = el("label", { text: "dimensions ", style: "font-size:13px" }, selectors);
      pageSelect = el("select", { "aria-label": "latent dimensions shown" }, label);
      for (let p = 0; p < pages; p++) el("option", { value: p, text: `z[${p * perPage}] to z[${Math.min(dim, (p + 1) * perPage) - 1}]` }, pageSelect);
      pageSelect.addEventListener("change", () => layout());
    }
    const sliders = [];
    for (let d = 0; d < dim; d++) {
      const row = el("div", { class: "vh-row", style: "display:flex;align-items:center;gap:8px;height:26px" }, sliderBox);
      el("span", { text: `z[${d}]`, style: "width:40px;font-family:monospace;font-size:13px" }, row);
      const [lo, hi] = P.limits[d];
      const input = el("input", { type: "range", min: lo, max: hi, step: step, value: state.z[d],
        "aria-label": `latent dimension z[${d}]`, style: "width:360px" }, row);
      const readout = el("span", { style: "width:56px;font-family:monospace;font-size:13px" }, row);
      const note = el("span", { style: "font-size:12px;color:#777" }, row);
      input.addEventListener("input", (e) => { const t0 = e.timeStamp; state.z[d] = +input.value; state.perModel = null; state.note = ""; refresh(); stats.times.push(performance.now() - t0); });
      input.addEventListener("keydown", (e) => {
        const big = 10 * step;
        const to = { PageUp: +input.value + big, PageDown: +input.value - big, Home: lo, End: hi }[e.key];
        if (to === undefined) return;
        e.preventDefault();
        input.value = Math.min(hi, Math.max(lo, to));
        input.dispatchEvent(new Event("input", { bubbles: true }));
      });
      sliders.push({ row: row, input: input, readout: readout, note: note });
    }

    const buttons = el("div", { style: "display:flex;flex-wrap:wrap;gap:8px;align-items:center;margin-top:6px" }, root);
    const button = (text, title, onClick) => {
      const b = el("button", { type: "button", text: text, title: title,
        style: "font-size:13px;padding:3px 10px;cursor:pointer" }, buttons);
      b.addEventListener("click", onClick);
      return b;
    };
    button("reset to origin", "z = 0 for every model", () => setAll(new Array(dim).fill(0), "at the origin z = 0"));
    button("sample from prior", "z drawn from N(0, I), the VAE's prior", () => setAll(Array.from({ length: dim }, gaussian), "z drawn from N(0, I)"));
    let preview = null;
    if (P.test_images && models.every((m) => m.testCodes)) {
      button(`another test ${P.noun}`, `encode a random test ${P.noun} with every model`, () => encodeTest(nextTest()));
      preview = el("canvas", { width: 28, height: 28, class: "vh-preview", role: "img", "aria-label": `the test ${P.noun} encoded`,
        style: "width:56px;height:56px;image-rendering:pixelated;border:1px solid #ccc" }, buttons);
    }
    const status = el("div", { class: "vh-status", role: "status", "aria-live": "polite",
      style: "font-family:monospace;font-size:13px;margin-top:6px;white-space:pre-wrap" }, root);

    // the drawing pad: encoders run here too
    let pad = null;
    if (models.every((m) => m.encoder)) pad = drawingPad(top);

    // ---- behaviour ----
    let testImages = null, testOrder = [], testPos = 0;
    function loadTests(ready) {
      if (testImages) return ready();
      const img = new Image();
      img.onload = () => {  // a sprite sheet: one 28 x 28 image per row-major tile, lossless PNG
        const c = document.createElement("canvas");
        c.width = img.width; c.height = img.height;
        const ctx = c.getContext("2d");
        ctx.drawImage(img, 0, 0);
        const d = ctx.getImageData(0, 0, c.width, c.height).data, per = c.width / 28, n = P.n_test;
        testImages = [];
        for (let k = 0; k < n; k++) {
          const px0 = (k % per) * 28, py0 = Math.floor(k / per) * 28, a = new Float32Array(784);
          for (let y = 0; y < 28; y++) for (let x = 0; x < 28; x++) a[y * 28 + x] = d[4 * ((py0 + y) * c.width + px0 + x)] / 255;
          testImages.push(a);
        }
        ready();
      };
      img.src = "data:image/png;base64," + P.test_images;
    }
    function nextTest() {
      if (!testOrder.length) {  // a shuffled pass over the shipped test images (balanced over classes)
        testOrder = Array.from({ length: P.n_test }, (_, k) => k);
        for (let i = testOrder.length - 1; i > 0; i--) { const j = Math.floor(Math.random() * (i + 1)); [testOrder[i], testOrder[j]] = [testOrder[j], testOrder[i]]; }
      }
      return testOrder[testPos++ % testOrder.length];
    }
    function encodeTest(k, origin) {
      loadTests(() => {
        paintDigit(preview, testImages[k]);
        const codes = models.map((m) => Array.from(m.testCodes.slice(k * dim, (k + 1) * dim)));
        const name = testLabels ? P.classes[testLabels[k]] : "";
        if (classSelect && testLabels) { state.label = testLabels[k]; classSelect.value = state.label; }
        setPerModel(codes, `test ${P.noun} #${k} (${name}): each model at its own code${origin ? " (" + origin + ")" : ""}`);
      });
    }
    function setAll(z, note) {  // clipped to the sliders' range, as Python's set_z does
      state.z = z.map((v, d) => Math.min(Math.max(v, P.limits[d][0]), P.limits[d][1]));
      state.perModel = null; state.note = note; syncSliders(); refresh();
    }
    function setPerModel(codes, note) { state.perModel = codes; state.z = codes[0].slice(); state.note = note; syncSliders(); refresh(); }
    function syncSliders() { sliders.forEach((s, d) => { s.input.value = state.z[d]; }); }
    function zOf(i) { return state.perModel ? state.perModel[i] : state.z; }
    function visible(i) { return !modelSelect || i === state.shown; }

    function layout() {
      columns.forEach((c, i) => { c.col.style.display = visible(i) ? "flex" : "none"; });
      const page = pageSelect ? +pageSelect.value : 0;
      sliders.forEach((s, d) => {
        s.row.style.display = Math.floor(d / perPage) === page ? "flex" : "none";
        const off = models.filter((m, i) => visible(i) && m.inactive[d]).map((m) => m.name);
        s.row.style.opacity = off.length ? 0.45 : 1;
        s.note.textContent = off.length ? `inactive (KL ≈ 0) in ${off.join(", ")}` : "";
      });
    }

    function refresh() {
      models.forEach((m, i) => {
        if (!visible(i)) return;
        const z = zOf(i);
        paintDigit(columns[i].img, decode(m, z, state.label));
        columns[i].img.setAttribute("aria-label", `${m.name} decodes z = (${z.slice(0, 4).map((v) => fmt(v)).join(", ")}${dim > 4 ? ", ..." : ""})`);
        if (columns[i].map) columns[i].map.marker(z);
      });
      sliders.forEach((s, d) => { s.readout.textContent = fmt(state.z[d]); });
      const shown = state.z.slice(0, 8).map((v) => fmt(v)).join(", ") + (dim > 8 ? ", ..." : "");
      status.textContent = `z = (${shown})${state.note ? "  \u2014 " + state.note : ""}` +
        (bridge.live() ? "" : "\n(running in the page: the sliders work; explorer.z in Python updates only while the kernel that made it runs)");
      bridge.send(state);
    }

    function drawingPad(parent) {
      const col = el("div", { class: "vh-draw", style: "display:flex;flex-direction:column;align-items:center" }, parent);
      el("div", { text: `draw a ${P.noun}`, style: "font-weight:bold;font-size:15px;margin-bottom:2px" }, col);
      const canvas = el("canvas", { width: 140, height: 140, class: "vh-pad", "aria-label": `drawing pad: draw a ${P.noun} with the mouse`,
        style: "width:140px;height:140px;background:#000;border:1px solid #888;cursor:crosshair;touch-action:none" }, col);
      const ctx = canvas.getContext("2d");
      ctx.lineCap = "round"; ctx.lineJoin = "round"; ctx.strokeStyle = "#fff"; ctx.lineWidth = 11;
      ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 140, 140);
      const row = el("div", { style: "display:flex;align-items:center;gap:6px;margin-top:4px" }, col);
      el("span", { text: "as the model sees it:", style: "font-size:12px" }, row);
      const seen = el("canvas", { width: 28, height: 28, class: "vh-seen", role: "img", "aria-label": "the drawing, preprocessed to 28 x 28",
        style: "width:56px;height:56px;image-rendering:pixelated;border:1px solid #ccc" }, row);
      paintDigit(seen, new Float32Array(784));               // black, like the empty pad
      const clear = el("button", { type: "button", text: "clear", style: "font-size:13px;margin-top:4px" }, col);
      let drawing = false, last = null;
      const at = (e) => { const r = canvas.getBoundingClientRect(); return [(e.clientX - r.left) * 140 / r.width, (e.clientY - r.top) * 140 / r.height]; };
      canvas.addEventListener("pointerdown", (e) => { drawing = true; last = at(e); canvas.setPointerCapture(e.pointerId); stroke(at(e)); });
      canvas.addEventListener("pointermove", (e) => { if (drawing) stroke(at(e)); });
      const end = () => { if (!drawing) return; drawing = false; update(); };
      canvas.addEventListener("pointerup", end);
      canvas.addEventListener("pointercancel", end);
      clear.addEventListener("click", () => { ctx.fillStyle = "#000"; ctx.fillRect(0, 0, 140, 140); paintDigit(seen, new Float32Array(784)); });
      function stroke(p) { ctx.beginPath(); ctx.moveTo(last[0], last[1]); ctx.lineTo(p[0], p[1]); ctx.stroke(); last = p; }
      function update() {
        const t0 = performance.now();
        const x = preprocessDrawing(canvas);
        if (!x) return;
        paintDigit(seen, x);
        api.drawing = Array.from(x);
        setPerModel(models.map((m) => encode(m, x, state.label)), "your drawing: each model at its own code");
        stats.drawMs = performance.now() - t0;
      }
      return { canvas: canvas, seen: seen };
    }

    const api = {
      root: root, models: models, state: state, stats: stats, drawing: null,
      decode: (i, z, label) => Array.from(decode(models[i], z, label || 0)),
      encode: (i, pixels, label) => encode(models[i], Float32Array.from(pixels), label || 0),
      setZ: (z) => setAll(z, "set from Python"),
      resend: () => refresh(),
      setPerModel: setPerModel,
      encodeTest: encodeTest,
      nTest: P.test_images && models.every((m) => m.testCodes) ? P.n_test : 0,
      markerAt: (i) => columns[i].map ? columns[i].map.at : null,
    };
    // Notebook 7 and JupyterLab check the focused element itself for this attribute before their shortcuts
    root.querySelectorAll("input, button, select, canvas").forEach((e) => e.setAttribute("data-lm-suppress-shortcuts", "true"));
    layout();
    syncSliders();
    refresh();
    bridge.attach(api);
    if (preview && P.start !== null && P.start !== undefined) loadTests(() => paintDigit(preview, testImages[P.start]));
    return api;
  }

  // ---- the link to Python: an anywidget model registered by the kernel-side explorer ----------
  function bridgeFor(key) {
    let model = null, api = null, timer = null, pending = null, sending = false;
    const registry = (window.vhExplorerModels = window.vhExplorerModels || {});
    const same = (a, b) => Array.isArray(a) && Array.isArray(b) && a.length === b.length &&
      a.every((v, i) => Array.isArray(v) ? same(v, b[i]) : Math.abs(v - b[i]) < 1e-6);
    function adopt() {  // take the kernel's point: Python is the authority when the link is made
      if (!api || !model) return;
      const index = model.get("test_index");
      const mz = model.get("model_points") || [];
      if (index >= 0 && index < (api.nTest || 0)) api.encodeTest(index, "from Python");
      else if (mz.length) api.setPerModel(mz, "set from Python");
      else if (!same(model.get("point"), api.state.z)) api.setZ(model.get("point"));
    }
    function connect(m) {
      model = m;
      // Python moved the point (explorer.set_z / explorer.encode): follow it
      model.on("change:test_index", () => { if (!sending) adopt(); });
      model.on("change:model_points", () => { if (!sending) adopt(); });
      model.on("change:point", () => { if (!sending) adopt(); });
      adopt();
    }
    function flush() {
      timer = null;
      if (!model || !pending) return;
      sending = true;
      try {
        model.set("point", pending.z);
        model.set("model_points", pending.perModel || []);
        model.set("test_index", -1);
        if (pending.drawing) model.set("drawing_pixels", pending.drawing);
        model.save_changes();
      } finally { sending = false; }
      pending = null;
    }
    if (registry[key]) connect(registry[key]);
    else window.addEventListener("vh-explorer-model", function handler(e) {
      if (e.detail === key && registry[key]) { window.removeEventListener("vh-explorer-model", handler); connect(registry[key]); }
    });
    return {
      live: () => !!model,
      attach: (a) => { api = a; adopt(); },
      send: (s) => {  // only what differs from the kernel's state; at most ~20 messages a second, the last one always
        if (!model) return;
        const perModel = s.perModel ? s.perModel.map((z) => z.slice()) : [];
        const drawing = api ? api.drawing : null;
        if (same(s.z, model.get("point")) && same(perModel, model.get("model_points") || []) &&
            (!drawing || same(drawing, model.get("drawing_pixels") || []))) { pending = null; return; }
        pending = { z: s.z.slice(), perModel: perModel.length ? perModel : null, drawing: drawing };
        if (!timer) timer = setTimeout(flush, 50);
      },
    };
  }

  // Called by the script inside each explorer output: replace the still picture with the live explorer.
  function boot(script) {
    const root = script.parentElement;
    if (!root || root.getAttribute("data-vh-booted")) return;
    root.setAttribute("data-vh-booted", "1");
    const P = JSON.parse(root.querySelector("script.vh-payload").textContent);
    const live = el("div", { class: "vh-live" });
    root.appendChild(live);
    try {
      const api = mount(live, P, bridgeFor(P.key));
      const still = root.querySelector(".vh-still");
      if (still) still.style.display = "none";
      (window.vhExplorers = window.vhExplorers || []).push(api);
      root.vhExplorer = api;
    } catch (err) {  // keep the still picture; say why in the console
      live.remove();
      console.error("vae_helpers latent explorer could not start:", err);
    }
  }

  window.vhExplorer = { version: VERSION, boot: boot, mount: mount, decode: decode, encode: encode, preprocessDrawing: preprocessDrawing };
})();
