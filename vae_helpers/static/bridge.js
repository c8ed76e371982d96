// The kernel side of a latent explorer: an anywidget model that is never displayed itself. It
// registers under its key so the explorer in the cell's output (plain HTML + script, see
// explorer.js) can send its current point back to Python (explorer.z) and follow set_z().
function initialize({ model }) {
  const registry = (window.vhExplorerModels = window.vhExplorerModels || {});
  const key = model.get("key");
  registry[key] = model;
  window.dispatchEvent(new CustomEvent("vh-explorer-model", { detail: key }));
  return () => { if (registry[key] === model) delete registry[key]; };
}

function render({ el }) {
  el.textContent = "This widget only links a latent explorer to Python; display the explorer itself " +
                   "(the value returned by vh.latent_explorer) to see it.";
}

export default { initialize, render };
