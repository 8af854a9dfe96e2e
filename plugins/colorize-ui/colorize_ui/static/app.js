// The page of `colorize ui` (plugins/colorize-ui/colorize_ui/app.py serves it and its JSON API).
// State lives in `state`; every change of photo, settings or hints asks the server for a
// new result (predictions are cached there, so a hint change only re-runs the hints).
// A click on the photo asks the server for the method's colour suggestions at that point;
// picking one places it as a hint (`addHint`).
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  image: null,        // {id, name, width, height}
  reference: null,    // {id, name, ...}
  hints: [],          // {x, y, color, radius} in input pixels
  palette: [],        // "#rrggbb" colours of the global hints
  results: [],        // the last reply's results
  selected: 0,
  pending: false,     // a request is in flight
  again: false,       // another change arrived meanwhile
  started: 0,
  timer: null,
  suggesting: null,   // the open suggestions: {x, y, radius, stage, token}
  token: 0,           // numbers suggestion requests; a reply for an older one is dropped
};

function setState(name) {
  document.body.dataset.state = name;
}

// An error leaves no result on screen: what was shown belonged to other settings.
function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
  clearResult("No result: see the message above.");
  setState("error");
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function busy(text) {
  state.started = performance.now();
  setState("busy");
  const tick = () => {
    const seconds = ((performance.now() - state.started) / 1000).toFixed(1);
    $("status-text").textContent = `${text} ${seconds} s`;
  };
  tick();
  clearInterval(state.timer);
  state.timer = setInterval(tick, 100);
}

function idle() {
  clearInterval(state.timer);
  $("status-text").textContent = "";
  if (document.body.dataset.state === "busy") setState("ready");
}

async function api(path, options = {}) {
  const reply = await fetch(path, options);
  let body = null;
  try {
    body = await reply.json();
  } catch (_) {
    body = {error: `${reply.status} ${reply.statusText}`};
  }
  if (!reply.ok) throw new Error(body.error || `${reply.status} ${reply.statusText}`);
  return body;
}

function postJson(path, payload) {
  return api(path, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(payload),
  });
}

// -- methods -------------------------------------------------------------------------

function currentMethod() {
  const name = $("method").value;
  return state.config.methods.find((m) => m.name === name);
}

function capabilities() {
  const method = currentMethod();
  return method ? method.capabilities : [];
}

function methodNote(method) {
  if (!method) return "";
  const isDefault = method.name === state.config.default;
  const advice = method.advice || method.description || "";
  return `${method.name}${isDefault ? " (default)" : ""}: ${advice}`;
}

function fillDecoders() {
  const method = currentMethod();
  const select = $("decoder");
  select.innerHTML = "";
  const decoders = method ? [...method.decoders] : [];
  if (method && method.default_decoder && !decoders.includes(method.default_decoder)) {
    decoders.unshift(method.default_decoder);
  }
  const labels = (method && method.decoder_labels) || {};
  for (const name of decoders) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = (labels[name] || name) + (name === method.default_decoder ? " (default)" : "");
    option.title = name;
    select.appendChild(option);
  }
  if (method && method.default_decoder) select.value = method.default_decoder;
  select.disabled = decoders.length === 0;
  select.title = select.disabled ? `${method ? method.name : "this method"} has no decoders` : select.value;
  $("vividness-label").title = method && method.vividness
    ? `What vividness does for ${method.name}: ${method.vividness}`
    : "";
  $("method-note").textContent = methodNote(method);
  const caps = capabilities();
  $("samples").disabled = !caps.includes("diverse");
  if ($("samples").disabled) $("samples").value = 1;
  const usesReference = caps.includes("reference");
  $("reference-label").classList.toggle("disabled", !usesReference);
  $("reference-input").disabled = !usesReference;
  const name = $("reference-name");
  name.textContent = state.reference
    ? state.reference.name + (usesReference ? "" : " (not used by this method)")
    : usesReference
      ? (caps.includes("automatic") ? "no reference (optional)" : "this method needs a reference photo")
      : "no reference (this method takes none)";
  name.title = name.textContent;
}

function fillWhichMethod() {
  const list = $("which-method-list");
  list.innerHTML = "";
  for (const entry of state.config.which_method || []) {
    const item = document.createElement("li");
    const names = document.createElement("strong");
    names.textContent = entry.methods
      .map((name) => (name === state.config.default ? `${name} (default)` : name))
      .join(", ");
    item.append(names, `: ${entry.advice}`);
    list.appendChild(item);
  }
}

async function loadConfig() {
  state.config = await api("/api/config");
  const select = $("method");
  for (const m of state.config.methods) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.name + (m.name === state.config.default ? " (default)" : "");
    option.title = m.description;
    select.appendChild(option);
  }
  if (state.config.default) select.value = state.config.default;
  $("samples").max = state.config.max_samples;
  $("example-button").hidden = !state.config.example;
  fillDecoders();
  fillWhichMethod();
}

// -- photos --------------------------------------------------------------------------

async function upload(file) {
  // The server refuses larger files too, but may close the connection before the browser
  // has sent the body, which fetch reports without the message: say it here first.
  const limit = state.config && state.config.max_upload_bytes;
  if (limit && file.size > limit) {
    const mib = Math.round((limit / 1048576) * 100) / 100;
    throw new Error(
      `${file.name}: file is over the page's limit of ${mib} MiB (colorize ui --max-upload-mib)`,
    );
  }
  return api(`/api/images?name=${encodeURIComponent(file.name)}`, {method: "POST", body: file});
}

function showName(element, text) {
  element.textContent = text;
  element.title = text;
}

async function openPhoto(loader, label) {
  clearError();
  closeSuggestions();
  busy(`Opening ${label}…`);
  try {
    const image = await loader();
    state.image = image;
    state.hints = [];
    clearResult("The colorized photo appears here.");
    showName($("photo-name"), `${image.name} (${image.width} × ${image.height})`);
    const src = `/api/images/${image.id}/preview.jpg`;
    await Promise.all([loaded($("input-img"), src), loaded($("before-img"), src)]);
    $("input-stage").classList.remove("empty");
    $("colorize-button").disabled = false;
    renderHints();
    idle();
    await colorize();
  } catch (err) {
    idle();
    showError(err.message);
  }
}

async function openReference(file) {
  clearError();
  busy(`Opening ${file.name}…`);
  try {
    state.reference = await upload(file);
    $("reference-clear").classList.remove("invisible");
    fillDecoders();
    idle();
    if (state.image) await colorize();
  } catch (err) {
    idle();
    showError(err.message);
  }
}

// -- colorizing ----------------------------------------------------------------------

// The vividness to send: null at 0.5, the method's own default look.
function vividness() {
  const value = Number($("vividness").value);
  return Math.abs(value - 0.5) < 1e-6 ? null : value;
}

function request() {
  const seed = $("seed").value.trim();
  const method = currentMethod();
  const usesReference = capabilities().includes("reference");
  const decoder = $("decoder");
  // the default decoder is not sent: the method then also maps vividness its own way
  const isDefault = method && decoder.value === method.default_decoder;
  return {
    image: state.image.id,
    method: $("method").value,
    decoder: decoder.disabled || isDefault ? null : decoder.value,
    seed: seed === "" ? null : parseInt(seed, 10),
    samples: parseInt($("samples").value, 10) || 1,
    reference: state.reference && usesReference ? state.reference.id : null,
    vividness: vividness(),
    global_hints: state.palette.length
      ? {palette: state.palette, strength: Number($("palette-strength").value)}
      : null,
    hints: state.hints,
  };
}

async function colorize() {
  if (!state.image) return;
  if (state.pending) {
    state.again = true;
    return;
  }
  state.pending = true;
  clearError();
  busy(`Colorizing with ${$("method").value}…`);
  try {
    const reply = await postJson("/api/colorize", request());
    state.results = reply.results;
    state.selected = Math.min(state.selected, reply.results.length - 1);
    await showResult();
    idle();
  } catch (err) {
    idle();
    showError(err.message);
  } finally {
    state.pending = false;
  }
  if (state.again) {
    state.again = false;
    await colorize();
  }
}

function loaded(img, src) {
  return new Promise((resolve, reject) => {
    img.onload = () => resolve();
    img.onerror = () => reject(new Error(`could not load ${src}`));
    img.src = src;
  });
}

function setDownload(result) {
  const download = $("download");
  if (result) {
    download.href = `/api/results/${result.id}/full.png`;
    download.download = result.download;
    download.removeAttribute("aria-disabled");
    download.classList.remove("disabled");
    download.title = `the full-size PNG: ${result.download}`;
  } else {
    download.removeAttribute("href");
    download.removeAttribute("download");
    download.setAttribute("aria-disabled", "true");
    download.classList.add("disabled");
    download.title = "colorize a photo first";
  }
}

// No result on screen: the picture, its uncertainty map, the samples and the download go;
// the result pane keeps its size and says `text`.
function clearResult(text) {
  state.results = [];
  const img = $("result-img");
  img.removeAttribute("src");
  img.dataset.result = "";
  $("uncertainty-img").hidden = true;
  $("uncertainty-img").removeAttribute("src");
  $("uncertainty").disabled = true;
  $("uncertainty-legend").hidden = true;
  $("result-stage").classList.add("empty");
  $("result-placeholder").textContent = text;
  setDownload(null);
  renderSamples();
  closeSuggestions();
}

async function showResult() {
  const result = state.results[state.selected];
  if (!result) return;
  await loaded($("result-img"), `/api/results/${result.id}/preview.jpg`);
  $("result-img").dataset.result = result.id;
  $("result-img").dataset.hints = String(state.hints.length);
  $("result-stage").classList.remove("empty");
  setDownload(result);
  const box = $("uncertainty");
  box.disabled = !result.uncertainty;
  $("uncertainty-label").title = result.uncertainty ? "" : `${result.method} has no uncertainty map`;
  if (!result.uncertainty) box.checked = false;
  await showUncertainty();
  renderSamples();
  applySlider();
}

async function showUncertainty() {
  const result = state.results[state.selected];
  const img = $("uncertainty-img");
  const shown = Boolean(result && $("uncertainty").checked && result.uncertainty);
  if (shown) await loaded(img, `/api/results/${result.id}/uncertainty.png`);
  img.hidden = !shown;
  $("uncertainty-legend").hidden = !shown;
}

function renderSamples() {
  const row = $("samples-row");
  row.innerHTML = "";
  row.hidden = state.results.length < 2;
  state.results.forEach((result, i) => {
    const img = document.createElement("img");
    img.src = `/api/results/${result.id}/preview.jpg`;
    img.alt = `sample ${i + 1}`;
    img.title = `sample ${i + 1} (seed ${result.seed})`;
    img.className = i === state.selected ? "selected" : "";
    img.addEventListener("click", async () => {
      state.selected = i;
      await showResult();
    });
    row.appendChild(img);
  });
}

function applySlider() {
  const value = Number($("slider").value);
  const clip = `inset(0 0 0 ${value}%)`;
  $("result-img").style.clipPath = clip;
  $("uncertainty-img").style.clipPath = clip;
  const divider = $("divider");
  divider.style.left = `${value}%`;
  divider.style.display = value > 0 ? "block" : "none";
}

// -- suggestions and hints -----------------------------------------------------------

// Where a click on `stage` landed, in input pixels, with the hint radius of the slider
// (screen pixels) in input pixels; null outside the photo.
function clickPoint(event, stage) {
  if (!state.image) return null;
  const box = stage.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) return null;
  const fx = (event.clientX - box.left) / box.width;
  const fy = (event.clientY - box.top) / box.height;
  if (fx < 0 || fx >= 1 || fy < 0 || fy >= 1) return null;
  const scale = state.image.width / box.width;
  return {
    x: Math.round(fx * state.image.width * 10) / 10,
    y: Math.round(fy * state.image.height * 10) / 10,
    radius: Math.round(Number($("hint-radius").value) * scale * 10) / 10,
    fx,
    fy,
  };
}

function addHint(point, color) {
  state.hints.push({x: point.x, y: point.y, color, radius: point.radius});
  renderHints();
  colorize();
}

function percent(p) {
  if (p >= 0.995) return "100 %";
  if (p < 0.01) return "<1 %";
  return `${Math.round(p * 100)} %`;
}

function swatch(color, label, title, own) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = own ? "swatch own" : "swatch";
  button.dataset.color = color;
  button.title = title;
  const chip = document.createElement("span");
  chip.className = "chip";
  chip.style.background = color;
  const text = document.createElement("span");
  text.className = "swatch-label";
  text.textContent = label;
  button.append(chip, text);
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    const open = state.suggesting;
    closeSuggestions();
    if (open) addHint(open, color);
  });
  return button;
}

function fillSwatches(suggestions) {
  const row = $("suggest-swatches");
  row.innerHTML = "";
  for (const s of suggestions) {
    row.appendChild(swatch(s.color, percent(s.probability), `${s.color}: ${percent(s.probability)}`, false));
  }
  const own = $("hint-colour").value;
  row.appendChild(swatch(own, "yours", `${own}: the Hint colour above`, true));
}

const SOURCES = {
  distribution: "probability of each colour in the method's histogram at this point",
  samples: "share of 8 sampled colorizations that put each colour here",
  estimate: "this method predicts one colour per pixel: its own colour here",
};

function placeSuggestions(stage, point) {
  const box = $("suggestions");
  stage.appendChild(box);
  box.hidden = false;
  const width = stage.clientWidth;
  const height = stage.clientHeight;
  const px = point.fx * width;
  const py = point.fy * height;
  const left = Math.max(0, Math.min(px - box.offsetWidth / 2, width - box.offsetWidth));
  let top = py + 14;
  if (top + box.offsetHeight > height) top = Math.max(0, py - 14 - box.offsetHeight);
  box.style.left = `${left}px`;
  box.style.top = `${top}px`;
}

async function openSuggestions(event, stage) {
  const point = clickPoint(event, stage);
  if (!point) return;
  closeSuggestions();
  state.token += 1;
  const token = state.token;
  state.suggesting = {...point, stage, token};
  const result = state.results[state.selected];
  $("suggest-head").textContent = result ? `Colours ${result.method} finds likely here` : "Hint colour";
  $("suggest-note").textContent = result ? "Asking the method…" : "Suggestions appear once the photo is colorized.";
  fillSwatches([]);
  $("suggestions").dataset.state = result ? "loading" : "none";
  renderHints();
  placeSuggestions(stage, point);
  if (!result) return;
  try {
    const reply = await postJson(`/api/results/${result.id}/suggest`, {x: point.x, y: point.y, k: 6});
    if (!state.suggesting || state.suggesting.token !== token) return;
    fillSwatches(reply.suggestions);
    $("suggest-note").textContent = SOURCES[reply.source] || "";
    $("suggestions").dataset.state = "ready";
  } catch (err) {
    if (!state.suggesting || state.suggesting.token !== token) return;
    $("suggest-note").textContent = err.message;
    $("suggestions").dataset.state = "error";
  }
  placeSuggestions(stage, point);
}

function closeSuggestions() {
  const box = $("suggestions");
  if (!box || !state.suggesting) return;
  box.hidden = true;
  box.dataset.state = "closed";
  state.suggesting = null;
  renderHints();
}

function renderHints() {
  for (const id of ["input-markers", "result-markers"]) {
    const layer = $(id);
    layer.innerHTML = "";
    if (!state.image) continue;
    const dot = (hint, className, title) => {
      const marker = document.createElement("div");
      marker.className = className;
      marker.style.left = `${(hint.x / state.image.width) * 100}%`;
      marker.style.top = `${(hint.y / state.image.height) * 100}%`;
      if (hint.color) marker.style.background = hint.color;
      marker.title = title;
      layer.appendChild(marker);
    };
    state.hints.forEach((hint, i) => dot(hint, "marker", `hint ${i + 1}`));
    if (state.suggesting) dot(state.suggesting, "marker pending", "suggestions for this point");
  }
  const list = $("hint-list");
  list.innerHTML = "";
  $("hints-empty").hidden = state.hints.length > 0;
  state.hints.forEach((hint, i) => {
    const item = document.createElement("li");
    const number = document.createElement("span");
    number.className = "muted";
    number.textContent = `${i + 1}.`;
    const colour = document.createElement("input");
    colour.type = "color";
    colour.value = hint.color;
    colour.className = "hint-colour";
    colour.setAttribute("aria-label", `colour of hint ${i + 1}`);
    colour.addEventListener("change", () => {
      hint.color = colour.value;
      renderHints();
      colorize();
    });
    const where = document.createElement("span");
    where.textContent = `x ${Math.round(hint.x)}, y ${Math.round(hint.y)}, radius ${Math.round(hint.radius)} px`;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.className = "hint-remove";
    remove.addEventListener("click", () => {
      state.hints.splice(i, 1);
      renderHints();
      colorize();
    });
    item.append(number, colour, where, remove);
    list.appendChild(item);
  });
}

// -- vividness and palette -----------------------------------------------------------

function showVividness() {
  const value = vividness();
  $("vividness-value").textContent = value === null ? "default" : value.toFixed(2);
}

// Colours a new palette entry starts with, in turn: brick, sky blue, leaf green, ochre.
const PALETTE_START = ["#b5442e", "#4a7fc1", "#4f8a3c", "#c99a3e"];
// Colours the page's palette holds at most (the server takes more).
const PALETTE_SIZE = 4;

function renderPalette() {
  const box = $("palette-colours");
  box.innerHTML = "";
  if (state.palette.length === 0) {
    const none = document.createElement("span");
    none.className = "muted";
    none.id = "palette-empty";
    none.textContent = "none";
    box.appendChild(none);
  }
  state.palette.forEach((colour, i) => {
    const entry = document.createElement("span");
    entry.className = "palette-colour";
    const picker = document.createElement("input");
    picker.type = "color";
    picker.value = colour;
    picker.setAttribute("aria-label", `palette colour ${i + 1}`);
    picker.addEventListener("change", () => {
      state.palette[i] = picker.value;
      colorize();
    });
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "palette-remove";
    remove.textContent = "×";
    remove.title = `remove palette colour ${i + 1}`;
    remove.setAttribute("aria-label", remove.title);
    remove.addEventListener("click", () => {
      state.palette.splice(i, 1);
      renderPalette();
      colorize();
    });
    entry.append(picker, remove);
    box.appendChild(entry);
  });
  $("palette-add").disabled = state.palette.length >= PALETTE_SIZE;
  $("palette-strength").disabled = state.palette.length === 0;
}

function showStrength() {
  $("palette-strength-value").textContent = Number($("palette-strength").value).toFixed(2);
}

// -- wiring --------------------------------------------------------------------------

function wire() {
  $("photo-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) openPhoto(() => upload(file), file.name);
    event.target.value = "";
  });
  $("example-button").addEventListener("click", () =>
    openPhoto(() => api("/api/example", {method: "POST"}), "the example photo"));
  $("reference-input").addEventListener("change", (event) => {
    const file = event.target.files[0];
    if (file) openReference(file);
    event.target.value = "";
  });
  $("reference-clear").addEventListener("click", () => {
    state.reference = null;
    $("reference-clear").classList.add("invisible");
    fillDecoders();
    colorize();
  });
  $("method").addEventListener("change", () => {
    fillDecoders();
    state.selected = 0;
    colorize();
  });
  $("decoder").addEventListener("change", () => {
    $("decoder").title = $("decoder").value;
  });
  for (const id of ["decoder", "seed", "samples"]) {
    $(id).addEventListener("change", () => {
      state.selected = 0;
      colorize();
    });
  }
  $("colorize-button").addEventListener("click", () => colorize());
  $("vividness").addEventListener("input", showVividness);
  $("vividness").addEventListener("change", () => {
    showVividness();
    colorize();
  });
  $("palette-add").addEventListener("click", () => {
    if (state.palette.length >= PALETTE_SIZE) return;
    state.palette.push(PALETTE_START[state.palette.length % PALETTE_START.length]);
    renderPalette();
    colorize();
  });
  $("palette-strength").addEventListener("input", showStrength);
  $("palette-strength").addEventListener("change", () => {
    showStrength();
    if (state.palette.length) colorize();
  });
  $("hints-clear").addEventListener("click", () => {
    state.hints = [];
    renderHints();
    colorize();
  });
  $("hint-radius").addEventListener("input", () => {
    $("hint-radius-value").textContent = $("hint-radius").value;
  });
  $("uncertainty").addEventListener("change", () => showUncertainty());
  $("slider").addEventListener("input", applySlider);
  for (const id of ["input-stage", "result-stage"]) {
    const stage = $(id);
    stage.addEventListener("click", (event) => {
      if ($("suggestions").contains(event.target)) return;
      openSuggestions(event, stage);
    });
  }
  $("suggestions").addEventListener("click", (event) => event.stopPropagation());
  // a click elsewhere, or Escape, closes the suggestions
  document.addEventListener("click", (event) => {
    if (!state.suggesting) return;
    if ($("suggestions").contains(event.target)) return;
    if (event.target.closest && event.target.closest(".stage")) return;
    closeSuggestions();
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeSuggestions();
  });
  // drag and drop anywhere on the page
  document.addEventListener("dragover", (event) => {
    event.preventDefault();
    document.body.classList.add("dragging");
  });
  document.addEventListener("dragleave", (event) => {
    if (event.target === document.documentElement || event.target === document.body) {
      document.body.classList.remove("dragging");
    }
  });
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    document.body.classList.remove("dragging");
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) openPhoto(() => upload(file), file.name);
  });
}

wire();
loadConfig()
  .then(() => setState("ready"))
  .catch((err) => showError(`could not read the installed methods: ${err.message}`));
