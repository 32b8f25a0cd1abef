import express from 'express';
import type { BrokerContext } from '../domain/context.js';
import { osbError, osbErrorHandler } from './errors.js';
import { bindHandler } from './handlers/bind.js';
import { bindingLastOperationHandler } from './handlers/binding-last-operation.js';
import { catalogHandler } from './handlers/catalog.js';
import { deprovisionHandler } from './handlers/deprovision.js';
import { fetchBindingHandler } from './handlers/fetch-binding.js';
import { fetchInstanceHandler } from './handlers/fetch-instance.js';
import { instanceLastOperationHandler } from './handlers/instance-last-operation.js';
import { provisionHandler } from './handlers/provision.js';
import { unbindHandler } from './handlers/unbind.js';
import { updateHandler } from './handlers/update.js';
import { authenticatePlatform, echoRequestIdentity, requireApiVersion } from './middleware.js';

/** The platform-facing OSB 2.17 API, mounted at `/v2`. */
export function osbRouter(ctx: BrokerContext): express.Router {
  const deps = { ctx };
  const router = express.Router();
  router.use(echoRequestIdentity, requireApiVersion, authenticatePlatform(ctx.db));
  router.use(express.json({ limit: '1mb', strict: false }));
  router.get('/catalog', catalogHandler(deps));
  const instance = '/service_instances/:instance_id';
  const binding = `${instance}/service_bindings/:binding_id`;
  router.put(instance, provisionHandler(deps));
  router.patch(instance, updateHandler(deps));
  router.delete(instance, deprovisionHandler(deps));
  router.get(instance, fetchInstanceHandler(deps));
  router.get(`${instance}/last_operation`, instanceLastOperationHandler(deps));
  router.put(binding, bindHandler(deps));
  router.delete(binding, unbindHandler(deps));
  router.get(binding, fetchBindingHandler(deps));
  router.get(`${binding}/last_operation`, bindingLastOperationHandler(deps));
  router.use((_req, res) => {
    osbError(res, 404, 'NotFound', 'no such OSB endpoint');
  });
  router.use(osbErrorHandler);
  return router;
}
