// MLflow's links to its web UI (http://host/#/experiments/ID/runs/RUN, #/experiments/ID,
// #/models/NAME, #/models/NAME/versions/V) keep their target after "#", which never reaches
// the server: this takes the reader to Cairn's page for it (server/ui/mlflow_links.py).
(function () {
  "use strict";

  // A segment of the fragment, as it is in a path of Cairn's (MLflow's UI percent-encodes names).
  function segment(text) {
    try {
      return encodeURIComponent(decodeURIComponent(text));
    } catch (e) {
      return null;  // malformed percent-encoding: not a link of MLflow's
    }
  }

  function cairnPath(hash) {
    var found = /^#\/experiments\/([^/?#]+)\/runs\/([^/?#]+)/.exec(hash);
    if (found) {
      var run = segment(found[2]);
      return run && "/runs/" + run;
    }
    found = /^#\/experiments\/([^/?#]+)/.exec(hash);
    if (found) {
      var experiment = segment(found[1]);
      return experiment && "/mlflow-link/experiments/" + experiment;
    }
    found = /^#\/models\/([^/?#]+)\/versions\/([^/?#]+)/.exec(hash);
    if (found) {
      var name = segment(found[1]);
      var version = segment(found[2]);
      return name && version && "/models/" + name + "/versions/" + version;
    }
    found = /^#\/models\/([^/?#]+)/.exec(hash);
    if (found) {
      var model = segment(found[1]);
      return model && "/models/" + model;
    }
    return null;
  }

  var target = cairnPath(window.location.hash);
  if (target) {
    window.location.replace(target);  // replace: "back" should not land on the link again
  }
})();
