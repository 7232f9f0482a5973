export default {
  fetch(request, env) {
    return env.DRIVER.fetch(request);
  },
};
