/* The ad page's decision form, made quicker with a keyboard. Progressive enhancement: without
 * this script the form still works and the server still checks every decision.
 *
 * - The reason list offers only the reasons of the chosen decision (violation forms for
 *   confirm and escalate, dismissal reasons for dismiss); the codes come from the select's
 *   data-violation and data-dismissal attributes, written by the server. The reason the server
 *   suggested (the model's category) comes back when the officer returns to a violation.
 * - Keys (documented on the page), ignored while typing in a field or with a modifier:
 *   j / k next / previous item, c claim, 1 / 2 / 3 confirm / dismiss / escalate, n note.
 */
(function () {
  "use strict";

  var form = document.getElementById("decide-form");
  var decision = form && form.querySelector("select[name=decision]");
  var reason = form && form.querySelector("select[name=reason]");
  var suggested = "";

  function codes(kind) {
    return (reason.getAttribute("data-" + kind) || "").split(" ").filter(Boolean);
  }

  function filterReasons() {
    var chosen = decision.value;
    var allowed = chosen === "dismissed" ? codes("dismissal")
      : chosen ? codes("violation") : null;
    Array.prototype.forEach.call(reason.options, function (option) {
      var off = allowed !== null && option.value !== "" && allowed.indexOf(option.value) < 0;
      option.hidden = off;
      option.disabled = off;
    });
    Array.prototype.forEach.call(reason.querySelectorAll("optgroup"), function (group) {
      var shown = Array.prototype.some.call(group.children, function (o) { return !o.hidden; });
      group.hidden = !shown;
    });
    var current = reason.options[reason.selectedIndex];
    if (current && current.disabled) {
      reason.value = "";
    }
    if (reason.value === "" && suggested && allowed !== null && allowed.indexOf(suggested) >= 0) {
      reason.value = suggested;
    }
  }

  if (decision && reason) {
    Array.prototype.forEach.call(reason.options, function (option) {
      if (option.defaultSelected && option.value) {
        suggested = option.value;
      }
    });
    decision.addEventListener("change", filterReasons);
    filterReasons();
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  var choices = {"1": "confirmed", "2": "dismissed", "3": "escalated"};

  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey || typing(event.target)) {
      return;
    }
    var key = event.key;
    if (key === "j" || key === "k") {
      var link = document.querySelector("a[data-key=" + key + "]");
      if (link) {
        event.preventDefault();
        window.location.assign(link.href);
      }
    } else if (key === "c") {
      var claim = document.querySelector("form.claim button[type=submit]");
      if (claim) {
        event.preventDefault();
        claim.click();
      }
    } else if (choices[key] && decision) {
      event.preventDefault();
      decision.value = choices[key];
      filterReasons();
      if (reason.value) {
        form.querySelector("button[type=submit]").focus();
      } else {
        reason.focus();
      }
    } else if (key === "n" && form) {
      var note = form.querySelector("textarea[name=note]");
      if (note) {
        event.preventDefault();
        note.focus();
      }
    }
  });
}());
