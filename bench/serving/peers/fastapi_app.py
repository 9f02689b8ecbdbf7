"""The FastAPI peer: POST /predict and POST /echo call the model functions directly.

Served by serving_bench.py as `uvicorn fastapi_app:app --workers 2 --loop uvloop --http httptools`
with the model directory (predict.py, model.pkl) on PYTHONPATH. Written the fast way FastAPI
allows: `async def` routes (no thread-pool hop for a function this short), the body read as JSON
without a pydantic model, and the answer returned as a JSONResponse (no jsonable_encoder pass).
"""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from predict import echo, predict

app = FastAPI()


@app.post("/predict")
async def predict_route(request: Request):
    return JSONResponse(predict(await request.json()))


@app.post("/echo")
async def echo_route(request: Request):
    return JSONResponse(echo(await request.json()))
