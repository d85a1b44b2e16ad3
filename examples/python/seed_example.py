#!/usr/bin/python3.6

import turtle_finder as service_finder
import time
import threading

global thread_lock

def service_change_callback(new_data):
  thread_lock.acquire()
  print('Key change: ' + new_data)
  thread_lock.release()

thread_lock = threading.Lock()
sf = service_finder.ServiceFinder()
sf.watch_service('cdd', service_change_callback)

while True:
  time.sleep(1)
  thread_lock.acquire()
  print("Critical Section!")
  thread_lock.release()
