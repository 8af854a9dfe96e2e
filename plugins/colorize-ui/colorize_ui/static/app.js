// The page of `colorize ui` (plugins/colorize-ui/colorize_ui/app.py serves it and its JSON API).
// State lives in `state`; every change of photo, settings or hints asks the server for a
// new result (predictions are cached there, so a hint change only re-runs the hints).
"use strict";

const $ = (id) => document.getElementById(id);

const state = {
  config: null,
  image: null,        // {id, name, width, height}
  reference: null,    // {id, name, ...}
  hints: [],          // {x, y, color, radius} in input pixels
  results: [],        // the last reply's results
  selected: 0,
  pending: false,     // a request is in flight
  again: false,       // another change arrived meanwhile
  started: 0,
  timer: null,
};

function setState(name) {
  document.body.dataset.state = name;
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = false;
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

// -- methods -------------------------------------------------------------------------

function currentMethod() {
  const name = $("method").value;
  return state.config.methods.find((m) => m.name === name);
}

function fillDecoders() {
  const method = currentMethod();
  const select = $("decoder");
  select.innerHTML = "";
  const decoders = method ? [...method.decoders] : [];
  if (method && method.default_decoder && !decoders.includes(method.default_decoder)) {
    decoders.unshift(method.default_decoder);
  }
  for (const name of decoders) {
    const option = document.createElement("option");
    option.value = name;
    option.textContent = name + (name === method.default_decoder ? " (default)" : "");
    select.appendChild(option);
  }
  if (method && method.default_decoder) select.value = method.default_decoder;
  select.disabled = decoders.length === 0;
  const caps = method ? method.capabilities : [];
  $("samples").disabled = !caps.includes("diverse");
  if ($("samples").disabled) $("samples").value = 1;
  const usesReference = caps.includes("reference");
  $("reference-label").classList.toggle("disabled", !usesReference);
  $("reference-input").disabled = !usesReference;
  $("reference-name").textContent = state.reference
    ? state.reference.name
    : usesReference
      ? (caps.includes("automatic") ? "no reference (optional)" : "this method needs a reference photo")
      : "no reference (this method takes none)";
}

async function loadConfig() {
  state.config = await api("/api/config");
  const select = $("method");
  for (const m of state.config.methods) {
    const option = document.createElement("option");
    option.value = m.name;
    option.textContent = m.name;
    option.title = m.description;
    select.appendChild(option);
  }
  if (state.config.default) select.value = state.config.default;
  $("samples").max = state.config.max_samples;
  $("example-button").hidden = !state.config.example;
  fillDecoders();
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

async function openPhoto(loader, label) {
  clearError();
  busy(`Opening ${label}…`);
  try {
    const image = await loader();
    state.image = image;
    state.hints = [];
    state.results = [];
    $("photo-name").textContent = `${image.name} (${image.width} × ${image.height})`;
    const src = `/api/images/${image.id}/preview.jpg`;
    $("input-img").src = src;
    $("before-img").src = src;
    $("result-img").removeAttribute("src");
    $("result-img").dataset.result = "";
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
    $("reference-clear").hidden = false;
    fillDecoders();
    idle();
    if (state.image) await colorize();
  } catch (err) {
    idle();
    showError(err.message);
  }
}

// -- colorizing ----------------------------------------------------------------------

function request() {
  const seed = $("seed").value.trim();
  return {
    image: state.image.id,
    method: $("method").value,
    decoder: $("decoder").disabled ? null : $("decoder").value,
    seed: seed === "" ? null : parseInt(seed, 10),
    samples: parseInt($("samples").value, 10) || 1,
    reference: state.reference ? state.reference.id : null,
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
    const reply = await api("/api/colorize", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify(request()),
    });
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

async function showResult() {
  const result = state.results[state.selected];
  if (!result) return;
  await loaded($("result-img"), `/api/results/${result.id}/preview.jpg`);
  $("result-img").dataset.result = result.id;
  $("result-img").dataset.hints = String(state.hints.length);
  const download = $("download");
  download.href = `/api/results/${result.id}/full.png`;
  download.download = result.download;
  download.hidden = false;
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
  if (result && $("uncertainty").checked && result.uncertainty) {
    await loaded(img, `/api/results/${result.id}/uncertainty.png`);
    img.hidden = false;
  } else {
    img.hidden = true;
  }
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

// -- hints ---------------------------------------------------------------------------

function placeHint(event, stage) {
  if (!state.image) return;
  const box = stage.getBoundingClientRect();
  if (box.width === 0 || box.height === 0) return;
  const fx = (event.clientX - box.left) / box.width;
  const fy = (event.clientY - box.top) / box.height;
  if (fx < 0 || fx >= 1 || fy < 0 || fy >= 1) return;
  const scale = state.image.width / box.width;
  state.hints.push({
    x: Math.round(fx * state.image.width * 10) / 10,
    y: Math.round(fy * state.image.height * 10) / 10,
    color: $("hint-colour").value,
    radius: Math.round(Number($("hint-radius").value) * scale * 10) / 10,
  });
  renderHints();
  colorize();
}

function renderHints() {
  for (const id of ["input-markers", "result-markers"]) {
    const layer = $(id);
    layer.innerHTML = "";
    if (!state.image) continue;
    state.hints.forEach((hint, i) => {
      const dot = document.createElement("div");
      dot.className = "marker";
      dot.style.left = `${(hint.x / state.image.width) * 100}%`;
      dot.style.top = `${(hint.y / state.image.height) * 100}%`;
      dot.style.background = hint.color;
      dot.title = `hint ${i + 1}`;
      layer.appendChild(dot);
    });
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
    $("reference-clear").hidden = true;
    fillDecoders();
    colorize();
  });
  $("method").addEventListener("change", () => {
    fillDecoders();
    state.selected = 0;
    colorize();
  });
  for (const id of ["decoder", "seed", "samples"]) {
    $(id).addEventListener("change", () => {
      state.selected = 0;
      colorize();
    });
  }
  $("colorize-button").addEventListener("click", () => colorize());
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
    stage.addEventListener("click", (event) => placeHint(event, stage));
  }
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
